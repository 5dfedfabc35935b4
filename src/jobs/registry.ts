import type { ConnectionOptions, Job, Queue } from 'bullmq';
import type { Settings } from '../config/settings';
import type { BuildJobData } from '../queues/build.queue';
import type { EmailVerificationJobData } from '../queues/email-verification.queue';
import type { InvalidateJobData } from '../queues/invalidate.queue';
import type { RecomputeAllJobData } from '../queues/recompute-all.queue';
import { RELAY_PRUNE_EVERY_MS, RELAY_PRUNE_SCHEDULER, type RelayPruneJobData } from '../queues/relay-prune.queue';
import { createQueue, type JobHistory, type JobRetention } from '../queues/queue-factory';
import { createBuildProcessor, releaseClaimsOfFailedJob } from './build-project-config.processor';
import type { JobDeps } from './deps';
import { createInvalidateProcessor } from './invalidate-project-config.processor';
import { createPruneRelaysProcessor } from './prune-relays.processor';
import { createRecomputeAllProcessor } from './recompute-all-configs.processor';
import { createRemoveUnverifiedMembersProcessor } from './remove-unverified-members.processor';

/**
 * The job registry: every kind of background job, declared once. The container creates the
 * queues from it, the worker runtime starts one BullMQ worker per kind (so each kind has slots of
 * its own that no other kind can take: an invalidation burst never delays a build), and Bull
 * Board, the queue-depth metric and the test helpers list the queues from it. A new job kind is
 * one entry here plus its processor.
 */
export interface JobKind<Data, Name extends string> {
  /** The BullMQ queue name (DESIGN.md): stable, since queued jobs outlive a deploy. */
  queue: string;
  /** The job name of scheduled (repeated) jobs; others are named by `nameOf`. */
  jobName: Name;
  retention: JobRetention;
  /** Jobs of this kind one worker process runs at once. */
  concurrency(settings: Settings): number;
  processor(deps: JobDeps): (job: Job<Data>) => Promise<void>;
  /** After any failed attempt; the default logs it. */
  onFailed?(deps: JobDeps, job: Job<Data> | undefined, error: Error): Promise<void> | void;
  /** What a log line says about a job of this kind. */
  describe(data: Data): Record<string, unknown>;
  /** How often a job may be found stalled (its worker died) and run again before it fails; BullMQ's default is 1. */
  maxStalledCount?: number;
  /** A job the workers schedule themselves, every `everyMs` (one BullMQ job scheduler for the fleet). */
  repeat?: { scheduler: string; everyMs: number; enabled(settings: Settings): boolean; data: Data };
}

const defineJobKind = <Data, Name extends string>(kind: JobKind<Data, Name>) => kind;

/** Invalidations run one at a time per process: nobody waits on them, and they yield to builds. */
export const INVALIDATION_CONCURRENCY = 1;

export const jobKinds = {
  build: defineJobKind<BuildJobData, string>({
    queue: 'relay-config-build',
    jobName: 'build',
    retention: { attempts: 3, backoffMs: 200 },
    concurrency: (settings) => settings.workerConcurrency,
    processor: createBuildProcessor,
    onFailed: releaseClaimsOfFailedJob,
    describe: (data) => ({ keys: data.publicKeys.length }),
  }),
  invalidate: defineJobKind<InvalidateJobData, string>({
    queue: 'relay-config-invalidate',
    jobName: 'invalidate',
    // A committed change rides on this job once its outbox row is gone: it retries for days
    // (e.g. through a PostgreSQL outage), never giving up after a few seconds.
    retention: { attempts: 100_000, backoffMs: 500, maxBackoffMs: 10_000 },
    // Safe to run again after a worker died holding it (an invalidation is idempotent).
    maxStalledCount: 1000,
    concurrency: () => INVALIDATION_CONCURRENCY,
    processor: createInvalidateProcessor,
    describe: (data) => ({ scope: data.scope, trigger: data.trigger }),
  }),
  'recompute-all': defineJobKind<RecomputeAllJobData, 'recompute-all'>({
    queue: 'relay-config-recompute-all',
    jobName: 'recompute-all',
    // A failed walk starts over (rewriting a config twice is harmless), so it may retry for a while.
    retention: { attempts: 10, backoffMs: 5000 },
    // One walk at a time per process; a second process's walk only rewrites the same configs.
    concurrency: () => 1,
    processor: createRecomputeAllProcessor,
    describe: (data) => ({ trigger: data.trigger, format: data.format }),
  }),
  'email-verification': defineJobKind<EmailVerificationJobData, 'remove-unverified-members'>({
    queue: 'organization-email-verification',
    jobName: 'remove-unverified-members',
    retention: { attempts: 10_000, backoffMs: 1000, maxBackoffMs: 60_000 },
    maxStalledCount: 1000,
    // Rare and small: one at a time, apart from the config queues.
    concurrency: () => 1,
    processor: createRemoveUnverifiedMembersProcessor,
    describe: (data) => ({ organizationId: data.organizationId }),
  }),
  'relay-prune': defineJobKind<RelayPruneJobData, 'prune-relays'>({
    queue: 'relay-prune',
    jobName: 'prune-relays',
    retention: { attempts: 3, backoffMs: 10_000 },
    concurrency: () => 1,
    processor: createPruneRelaysProcessor,
    describe: () => ({}),
    // Relays re-register every 10 minutes, so an hour's lag is nothing.
    repeat: { scheduler: RELAY_PRUNE_SCHEDULER, everyMs: RELAY_PRUNE_EVERY_MS, enabled: (settings) => settings.relayPruneAfterDays > 0, data: {} },
  }),
};

export type JobKindName = keyof typeof jobKinds;
type DataOf<K extends JobKindName> = (typeof jobKinds)[K] extends JobKind<infer D, infer _N> ? D : never;
type NameOf<K extends JobKindName> = (typeof jobKinds)[K] extends JobKind<infer _D, infer N> ? N : never;

/** One queue per job kind, typed by its payload and job name. */
export type Queues = { [K in JobKindName]: Queue<DataOf<K>, void, NameOf<K>> };

export const JOB_KIND_NAMES = Object.keys(jobKinds) as JobKindName[];

/** A job kind as the generic code (worker runtime, board, metrics) handles it. */
export function jobKind(name: JobKindName): JobKind<unknown, string> {
  return jobKinds[name] as unknown as JobKind<unknown, string>;
}

/**
 * The start-up check (run by the container): every kind has a distinct queue and a processor.
 * The types already say so; this catches a registry edited past them (a cast, a JavaScript caller).
 */
export function checkJobRegistry(kinds: Record<string, JobKind<unknown, string>> = jobKinds as unknown as Record<string, JobKind<unknown, string>>): void {
  const seen = new Map<string, string>();
  for (const [name, kind] of Object.entries(kinds)) {
    if (typeof kind.processor !== 'function') throw new Error(`job kind "${name}" has no processor`);
    const other = seen.get(kind.queue);
    if (other !== undefined) throw new Error(`job kinds "${other}" and "${name}" share the queue "${kind.queue}"`);
    seen.set(kind.queue, name);
  }
}

/** The queues of every job kind on one connection, each under its prefix (layout.ts, `bullPrefix`). */
export function createQueues(connection: ConnectionOptions, prefixOf: (queue: string) => string, history: JobHistory): Queues {
  const queues = {} as Record<JobKindName, Queue>;
  for (const name of JOB_KIND_NAMES) {
    const kind = jobKind(name);
    queues[name] = createQueue(kind.queue, connection, prefixOf(kind.queue), kind.retention, history);
  }
  return queues as unknown as Queues;
}
