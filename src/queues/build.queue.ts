import type { Queue } from 'bullmq';

/** A build job carries the keys one request claimed, and the token their claims hold. */
export interface BuildJobData {
  publicKeys: string[];
  claimToken: string;
}

export type BuildQueue = Queue<BuildJobData, void, 'build'>;

/**
 * Schedules builds of the keys a request claimed, in jobs of at most `batchSize` keys (one job
 * per request with the default batch size, since Relay sends at most 500 keys).
 */
export async function scheduleBuildProjectConfig(queue: BuildQueue, publicKeys: readonly string[], claimToken: string, batchSize: number): Promise<number> {
  const jobs = [];
  for (let i = 0; i < publicKeys.length; i += batchSize) {
    jobs.push({ name: 'build' as const, data: { publicKeys: publicKeys.slice(i, i + batchSize), claimToken } });
  }
  if (jobs.length === 1) await queue.add(jobs[0]!.name, jobs[0]!.data);
  else if (jobs.length > 1) await queue.addBulk(jobs);
  return jobs.length;
}
