import type { Logger } from 'pino';
import type { CachedConfigScan } from '../caches/config-format';
import type { BuildFailureLog } from '../caches/build-failures';
import type { ConfigGenerations } from '../caches/config-generations';
import type { ProjectConfigCache } from '../caches/project-config-cache';
import type { RelayKeyCache } from '../caches/relay-key-cache';
import type { Settings } from '../config/settings';
import type { Orm } from '../db/orm';
import type { Metrics } from '../metrics';

/** What the job processors need; the worker runtime passes them in. */
export interface JobDeps {
  orm: Orm;
  settings: Settings;
  generations: ConfigGenerations;
  cache: ProjectConfigCache;
  /** The walk over every cached config key and the config-format stamp (recompute-all). */
  cachedConfigs: CachedConfigScan;
  /** Published relay keys (on the worker's patient connection). */
  relayKeys: RelayKeyCache;
  metrics: Metrics;
  logger: Logger;
  /** The last failed build of each key, for `configs status`. */
  buildFailures: BuildFailureLog;
  /** Whether build jobs are waiting or running anywhere (invalidations make way for them). */
  buildsPending(): Promise<boolean>;
}
