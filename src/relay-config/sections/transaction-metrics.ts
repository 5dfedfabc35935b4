import { CUSTOM_MEASUREMENT_LIMIT } from '../global-config';
import type { TaggingRule } from '../types';
import { defineSection } from '../section';
import { shared } from '../serialize';

/** Sentry's TRANSACTION_METRICS_EXTRACTION_VERSION (the highest Relays of 2024–2026 accept). */
const TRANSACTION_METRICS_VERSION = 6;

/** Sentry's DEFAULT_THRESHOLD: a transaction is satisfied up to 300 ms of duration. */
const DEFAULT_DURATION_THRESHOLD_MS = 300;

const SATISFACTION_METRICS = ['s:transactions/user@none', 'd:transactions/duration@millisecond', 'd:transactions/measurements.lcp@millisecond'];

/** Sentry's satisfaction tagging for one threshold: frustrated above 4×t, tolerated above t, else satisfied. */
function satisfactionRules(field: string, threshold: number): TaggingRule[] {
  const rule = (tagValue: string, inner: unknown[]): TaggingRule => ({ condition: { op: 'and', inner }, targetMetrics: SATISFACTION_METRICS, targetTag: 'satisfaction', tagValue });
  return [
    rule('frustrated', [{ op: 'gt', name: field, value: threshold * 4 }]),
    rule('tolerated', [{ op: 'gt', name: field, value: threshold }]),
    rule('satisfied', []),
  ];
}

/** The same in every config: built and serialised once. */
const DEFAULT_SATISFACTION_RULES = shared(satisfactionRules('event.duration', DEFAULT_DURATION_THRESHOLD_MS));

/**
 * Transaction metrics behind `organizations:transaction-metrics-extraction`. Relays released
 * before April 2026 need `transactionMetrics` to extract transaction metrics and to apply dynamic
 * sampling to transactions; newer ones ignore both fields. Per-transaction thresholds are not
 * offered here, so the tagging uses Sentry's default threshold.
 */
export const transactionMetricsSection = defineSection({
  name: 'transaction-metrics',
  fields: ['transactionMetrics', 'metricConditionalTagging'],
  reads: { projectOptions: ['sentry:transaction_metrics_custom_tags'], features: ['organizations:transaction-metrics-extraction'] },
  restricted: false,
  build: ({ projectOption, feature }) => {
    const extractCustomTags = projectOption('sentry:transaction_metrics_custom_tags');
    if (!feature('organizations:transaction-metrics-extraction')) return {};
    return {
      transactionMetrics: { version: TRANSACTION_METRICS_VERSION, extractCustomTags, customMeasurements: { limit: CUSTOM_MEASUREMENT_LIMIT }, acceptTransactionNames: 'clientBased' },
      metricConditionalTagging: DEFAULT_SATISFACTION_RULES,
    };
  },
});
