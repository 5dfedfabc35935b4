import { describe, expect, it } from 'vitest';
import { checkJobRegistry, JOB_KIND_NAMES, jobKind, jobKinds } from '../src/jobs/registry';
import { cappedBackoff } from '../src/queues/queue-factory';
import { testSettings } from './support/harness';

describe('job registry', () => {
  it('passes its own start-up check: every kind has a processor and a queue of its own', () => {
    expect(() => checkJobRegistry()).not.toThrow();
    const queues = JOB_KIND_NAMES.map((name) => jobKind(name).queue);
    expect(new Set(queues).size).toBe(queues.length);
  });

  it('refuses at start-up a kind without a processor, naming it', () => {
    const broken = { ...jobKinds, orphan: { ...jobKinds.invalidate, queue: 'orphan', processor: undefined } };
    expect(() => checkJobRegistry(broken as never)).toThrow('job kind "orphan" has no processor');
  });

  it('refuses at start-up two kinds on one queue', () => {
    const broken = { ...jobKinds, copy: { ...jobKinds.invalidate } };
    expect(() => checkJobRegistry(broken as never)).toThrow('job kinds "invalidate" and "copy" share the queue "relay-config-invalidate"');
  });

  it('gives builds the configured concurrency and invalidations a single slot of their own', () => {
    const settings = testSettings({ WORKER_CONCURRENCY: '7' });
    expect(jobKinds.build.concurrency(settings)).toBe(7);
    expect(jobKinds.invalidate.concurrency(settings)).toBe(1);
  });

  it('backs off by doubling up to each kind\'s cap', () => {
    const retention = { attempts: 10, backoffMs: 500, maxBackoffMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => cappedBackoff(n, retention))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(cappedBackoff(3, { attempts: 3, backoffMs: 200 })).toBe(800);
  });

  it('keeps retrying a committed change for more than a day before an invalidation job could give up', () => {
    const { retention, maxStalledCount } = jobKinds.invalidate;
    let total = 0;
    for (let n = 1; n < retention.attempts && total < 24 * 3600_000; n++) total += cappedBackoff(n, retention);
    expect(total).toBeGreaterThanOrEqual(24 * 3600_000);
    expect(maxStalledCount).toBeGreaterThan(100);
  });
});
