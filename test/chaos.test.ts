import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { chaosSeed, prng, runChaos, summary } from '../bench/chaos';
import { ROOT } from './support/processes';

/**
 * The short chaos run (`npm run soak` runs the long one): separate API and worker processes, Relays
 * polling with revisions, an operator changing settings, workers SIGKILLed and restarted, Redis and
 * PostgreSQL cut and restored, all at once. The seed is printed; CHAOS_SEED=<seed> replays the
 * schedule of actions, but not the interleaving of the real processes, which no seed can fix. Only
 * invariants are asserted, never how a race came out.
 */

const seed = chaosSeed(process.env.CHAOS_SEED);

describe('chaos', () => {
  beforeAll(() => {
    // The processes run the compiled service.
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }, 120_000);

  it('the same seed draws the same schedule', () => {
    const a = prng(seed);
    const b = prng(seed);
    const draws = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(draws);
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(() => chaosSeed('not-a-seed')).toThrow(/integer/);
  });

  it(`converges after 20 s of chaos: no drift, no 5xx but 503, every process alive (seed ${seed})`, async () => {
    const report = await runChaos({ seed, durationMs: 20_000, log: (m) => process.stdout.write(`[chaos] ${m}\n`) });
    expect(report.violations, summary(report)).toEqual([]);
    expect(report.drift).toEqual([]);
    expect(report.staleViews).toEqual([]);
    expect(report.counts.serverErrors).toBe(0);
    expect(report.counts.nonJson).toBe(0);
    // The run did something (not how each race came out).
    expect(report.counts.polls).toBeGreaterThan(0);
    expect(report.counts.kills + report.counts.redisCuts + report.counts.postgresCuts).toBeGreaterThan(0);
  }, 180_000);
});
