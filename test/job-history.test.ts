import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { JOB_KIND_NAMES } from '../src/jobs/registry';
import { loadSettings } from '../src/config/settings';
import { testContainer } from './support/harness';

let container: Container;

beforeAll(async () => {
  container = await testContainer({ JOBS_KEEP_COMPLETED_S: '120', JOBS_KEEP_COMPLETED_COUNT: '7', JOBS_KEEP_FAILED_S: '600' });
});

afterAll(async () => {
  await container.close();
});

describe('job history for Bull Board', () => {
  it('keeps finished jobs per JOBS_KEEP_COMPLETED_S / _COUNT and failed ones per JOBS_KEEP_FAILED_S, on every queue', () => {
    for (const name of JOB_KIND_NAMES) {
      expect(container.queues[name].defaultJobOptions).toMatchObject({ removeOnComplete: { age: 120, count: 7 }, removeOnFail: { age: 600 } });
    }
  });

  it('defaults to an hour and 1000 finished jobs, a week of failed ones; rejects bad values', () => {
    const settings = loadSettings({});
    expect([settings.jobsKeepCompletedS, settings.jobsKeepCompletedCount, settings.jobsKeepFailedS]).toEqual([3600, 1000, 604_800]);
    expect(() => loadSettings({ JOBS_KEEP_COMPLETED_S: '-1', JOBS_KEEP_FAILED_S: 'week' })).toThrow(/JOBS_KEEP_COMPLETED_S[\s\S]*JOBS_KEEP_FAILED_S/);
  });

  it('names jobs by what they do', async () => {
    const { buildJobName } = await import('../src/queues/build.queue');
    const { invalidateJobName } = await import('../src/queues/invalidate.queue');
    expect(buildJobName(['0123456789abcdef0123456789abcdef'])).toBe('build 1 key 01234567…');
    expect(buildJobName(['0123456789abcdef0123456789abcdef', 'f'.repeat(32), 'e'.repeat(32)])).toBe('build 3 keys 01234567… +2');
    expect(invalidateJobName({ scope: { scope: 'project', organizationId: 1, projectId: 12 }, trigger: 'project.edit' })).toBe('invalidate project 12 (project.edit)');
  });
});
