import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAUNCH_ENV } from '../src/launch-env';
import { ROOT } from './support/processes';

/**
 * The environment the service is launched with (src/launch-env.ts) is set in three places that
 * cannot import it: the Dockerfile (so compose's containers too) and the `npm start` scripts. The
 * benchmark takes it from the module. They must agree, or what is measured is not what ships.
 */
describe('launch environment', () => {
  const entries = Object.entries(LAUNCH_ENV);

  it('holds the allocator setting', () => {
    expect(LAUNCH_ENV).toEqual({ MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  it('is set by the runtime stage of the Dockerfile', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const set = new Map([...runtimeStage.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    for (const [name, value] of entries) expect(set.get(name), name).toBe(value);
  });

  it('is set by every npm script that starts a role', () => {
    const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const starting = Object.entries(scripts).filter(([, command]) => /node dist\/workers\/\w+\.js/.test(command));
    expect(starting.map(([name]) => name).sort()).toEqual(['start', 'start:api', 'start:worker']);
    for (const [name, command] of starting) {
      // The assignments in front of `node` (sh sets them for that command only).
      const assignments = /(?:^|&&\s*)((?:\w+=\S+ )*)node dist\/workers\//.exec(command)?.[1] ?? '';
      const set = new Map(assignments.trim().split(/\s+/).filter(Boolean).map((a) => a.split('=') as [string, string]));
      for (const [variable, value] of entries) expect(set.get(variable), `${name}: ${command}`).toBe(value);
    }
  });
});
