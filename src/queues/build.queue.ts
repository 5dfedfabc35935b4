import type { Queue } from 'bullmq';

/** A build job carries the keys one request claimed, and the token their claims hold. */
export interface BuildJobData {
  publicKeys: string[];
  claimToken: string;
}

/** Build jobs are named by what they build (Bull Board lists names). */
export type BuildQueue = Queue<BuildJobData, void, string>;

/** `build 1 key 0123abcd…` / `build 37 keys 0123abcd… +36`: what Bull Board shows for the job. */
export function buildJobName(publicKeys: readonly string[]): string {
  const first = publicKeys[0] ?? '';
  const head = `${first.slice(0, 8)}…`;
  return publicKeys.length === 1 ? `build 1 key ${head}` : `build ${publicKeys.length} keys ${head} +${publicKeys.length - 1}`;
}

/**
 * Schedules builds of the keys a request claimed, in jobs of at most `batchSize` keys (one job
 * per request with the default batch size, since Relay sends at most 500 keys).
 */
export async function scheduleBuildProjectConfig(queue: BuildQueue, publicKeys: readonly string[], claimToken: string, batchSize: number): Promise<number> {
  const jobs = [];
  for (let i = 0; i < publicKeys.length; i += batchSize) {
    const batch = publicKeys.slice(i, i + batchSize);
    jobs.push({ name: buildJobName(batch), data: { publicKeys: batch, claimToken } });
  }
  if (jobs.length === 1) await queue.add(jobs[0].name, jobs[0].data);
  else if (jobs.length > 1) await queue.addBulk(jobs);
  return jobs.length;
}
