import { describe, expect, it } from 'vitest';
import { checkJobRegistry, JOB_KIND_NAMES, jobKind, jobKinds } from '../src/jobs/registry';
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
});
