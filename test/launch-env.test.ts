import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { LAUNCH_ENV, launchRoleOf, type LaunchRole } from '../src/launch-env';
import { ROOT } from './support/processes';

/**
 * The environment each role is launched with (src/launch-env.ts) is set in places that cannot
 * import it: the Dockerfile, docker-compose.yml and the `npm start` scripts. The benchmark takes it
 * from the module. They must agree, or what is measured is not what ships.
 */
describe('launch environment', () => {
  it('holds the allocator setting of each role', () => {
    expect(LAUNCH_ENV).toEqual({ api: { MALLOC_MMAP_THRESHOLD_: '16384' }, worker: { MALLOC_MMAP_THRESHOLD_: '65536' }, all: { MALLOC_MMAP_THRESHOLD_: '65536' } });
    expect(['workers/api.js', '/x/dist/workers/worker.js', 'workers/all.js', 'bench/floor-server.js'].map(launchRoleOf)).toEqual(['api', 'worker', 'all', null]);
  });

  it("is the workers' and `all`'s in the runtime stage of the Dockerfile, and the API's is set by compose", () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const image = new Map([...runtimeStage.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    const compose = parseYaml(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, string>; command?: string[] }> };
    const roleOf = (command: string[] | undefined) => launchRoleOf(command?.find((part) => part.startsWith('dist/workers/')) ?? '');
    const services = Object.entries(compose.services).filter(([, s]) => roleOf(s.command) !== null);
    expect(services.map(([, s]) => roleOf(s.command)).sort()).toEqual(['api', 'worker']);
    for (const [name, service] of services) {
      const role = roleOf(service.command) as LaunchRole;
      // What the container gets: compose's environment over the image's.
      for (const [variable, value] of Object.entries(LAUNCH_ENV[role])) expect(service.environment?.[variable] ?? image.get(variable), `${name}: ${variable}`).toBe(value);
    }
    for (const [variable, value] of Object.entries(LAUNCH_ENV.all)) expect(image.get(variable), variable).toBe(value);
  });

  it('is set by every npm script that starts a role, for that role', () => {
    const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const starting = Object.entries(scripts).filter(([, command]) => /node dist\/workers\/\w+\.js/.test(command));
    expect(starting.map(([name]) => name).sort()).toEqual(['start', 'start:api', 'start:worker']);
    for (const [name, command] of starting) {
      // The assignments in front of `node` (sh sets them for that command only).
      const launch = /(?:^|&&\s*)((?:\w+=\S+ )*)node (dist\/workers\/\w+\.js)/.exec(command);
      const role = launchRoleOf(launch?.[2] ?? '') as LaunchRole;
      const set = new Map((launch?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map((a) => a.split('=') as [string, string]));
      for (const [variable, value] of Object.entries(LAUNCH_ENV[role])) expect(set.get(variable), `${name}: ${command}`).toBe(value);
    }
  });
});
