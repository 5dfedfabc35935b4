import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../src/errors';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('error catalogue', () => {
  it('documents every code with its status in the README error table', () => {
    for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) {
      expect(readme, code).toMatch(new RegExp(`^\\| \`${code}\` \\| ${status} \\|`, 'm'));
    }
  });

  it('documents no code the catalogue does not have', () => {
    const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 1));
    const documented = [...section.matchAll(/^\| `([a-z_]+)` \| \d{3} \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
  });

  it('is the only way an error status leaves a route: no handler writes a 4xx or 5xx itself', () => {
    // The readiness probe's 503 is a status report, not an error.
    const allowed = new Set(['src/http/app.ts:res.status(ready ? 200 : 503)']);
    const offenders: string[] = [];
    for (const file of sourceFiles(join(__dirname, '..', 'src'))) {
      const relative = file.slice(file.indexOf('src/'));
      for (const match of readFileSync(file, 'utf8').matchAll(/res\.status\(([^)]*)\)/g)) {
        const argument = match[1];
        if (/^(1|2|3)\d\d$/.test(argument) || allowed.has(`${relative}:${match[0]}`) || argument.includes('.status')) continue;
        offenders.push(`${relative}: ${match[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
