import { defineSection } from '../section';

/** Sentry's DEFAULT_GROUPING_CONFIG. */
export const DEFAULT_GROUPING_CONFIG_ID = 'newstyle:2023-01-11';

/**
 * Sentry's encoded enhancements of the default bases (SNAP-2025, FULL_CONFIG.md §4.2): a zstd
 * frame of msgpack `[3, ["all-platforms:2023-01-11"], []]`, repeated three times as Sentry writes
 * it. Relay copies `groupingConfig` into events verbatim; Sentry's consumer reads it back.
 */
const ENCODED_BASE = 'KLUv_SAd6QAAkwORuGFsbC1wbGF0Zm9ybXM6MjAyMy0wMS0xMZA';
export const DEFAULT_ENHANCEMENTS = [ENCODED_BASE, ENCODED_BASE, ENCODED_BASE].join('#');

/** The grouping config Relay stamps on events (opaque to Relay). */
export const groupingConfigSection = defineSection({
  name: 'grouping-config',
  fields: ['groupingConfig'],
  reads: {},
  restricted: false,
  build: () => ({ groupingConfig: { id: DEFAULT_GROUPING_CONFIG_ID, enhancements: DEFAULT_ENHANCEMENTS } }),
});
