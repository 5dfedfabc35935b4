import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/processes';

/**
 * Prometheus's own checker on the files compose mounts: the rules and the scrape config parse,
 * and the alerts' unit tests (deploy/prometheus/alerts.test.yml: each alert fires on a synthetic
 * bad hour and stays quiet on a healthy one) pass. promtool comes with Debian's `prometheus`
 * package, which .ci/run installs when it is missing.
 */

const PROMETHEUS = path.join(ROOT, 'deploy/prometheus');

function promtool(...args: string[]): { ok: boolean; output: string } {
  try {
    return { ok: true, output: execFileSync('promtool', args, { cwd: PROMETHEUS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const failed = error as { code?: string; stdout?: string; stderr?: string };
    if (failed.code === 'ENOENT') throw new Error('promtool not found: install Debian\'s prometheus package (.ci/run does)', { cause: error });
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('the alert rules and the scrape config (promtool)', () => {
  it('parse: promtool check rules and check config succeed', () => {
    const rules = promtool('check', 'rules', 'alerts.yml');
    expect(rules.ok, rules.output).toBe(true);
    expect(rules.output).toMatch(/SUCCESS: \d+ rules found/);
    const config = promtool('check', 'config', '--syntax-only', 'prometheus.yml');
    expect(config.ok, config.output).toBe(true);
  });

  it('behave: every alert\'s unit test passes (fires on the bad series, quiet on the healthy ones)', () => {
    const result = promtool('test', 'rules', 'alerts.test.yml');
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toContain('SUCCESS');
  });
});
