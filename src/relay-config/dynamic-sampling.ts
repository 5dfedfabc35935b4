import type { DynamicSamplingBias, DynamicSamplingBiasId } from '../options/registry';
import { HEALTH_CHECK_GLOBS } from './sections/filter-settings';
import type { SamplingRule } from './types';

/**
 * Sentry's dynamic sampling rule generator (`src/sentry/dynamic_sampling/rules/`), for the biases
 * that need no observed traffic. Boosting latest releases, recalibration and the low-volume
 * project and transaction rebalancing all feed on counts of what Relays forwarded, which this
 * service never sees; they are left out, and the low-volume-projects rule reduces to Sentry's
 * uniform rule at the target rate.
 */

/** Sentry's RESERVED_IDS. */
export const RULE_IDS = {
  uniform: 1000,
  boostEnvironments: 1001,
  ignoreHealthChecks: 1002,
  boostReplayId: 1005,
  minimumSampleRate: 1006,
} as const;

/** Sentry's ENVIRONMENT_GLOBS. */
export const ENVIRONMENT_GLOBS = ['*debug*', '*dev*', '*local*', '*qa*', '*test*'];

/** Health-check transactions are kept at the base rate divided by this (FULL_CONFIG.md §6). */
export const IGNORE_HEALTH_CHECKS_FACTOR = 50;

/** Sentry's DEFAULT_BIASES; `minimumSampleRate` is off unless the project turns it on. */
export const DEFAULT_BIASES: readonly DynamicSamplingBias[] = [
  { id: 'boostEnvironments', active: true },
  { id: 'boostLatestRelease', active: true },
  { id: 'ignoreHealthChecks', active: true },
  { id: 'boostKeyTransactions', active: true },
  { id: 'boostLowVolumeTransactions', active: true },
  { id: 'boostReplayId', active: true },
  { id: 'recalibrationRule', active: true },
  { id: 'minimumSampleRate', active: false },
];

/** The project's biases over Sentry's defaults (an unset option means the defaults), in the defaults' order. */
export function effectiveBiases(stored: readonly DynamicSamplingBias[] | null): DynamicSamplingBias[] {
  const byId = new Map((stored ?? []).map((b) => [b.id, b.active]));
  return DEFAULT_BIASES.map((b) => ({ id: b.id, active: byId.get(b.id) ?? b.active }));
}

const EVERYTHING = { op: 'and', inner: [] };

interface Bias {
  id: DynamicSamplingBiasId;
  /** Emitted whenever the user enabled it, whatever the rate (Sentry's ALWAYS_ALLOWED_RULE_TYPES). */
  anyRate?: boolean;
  rules(rate: number): SamplingRule[];
}

/** In Sentry's combinator order (custom rules first, none here); the uniform rule follows them all. */
const BIASES: readonly Bias[] = [
  {
    id: 'ignoreHealthChecks',
    rules: (rate) => [
      {
        samplingValue: { type: 'sampleRate', value: rate / IGNORE_HEALTH_CHECKS_FACTOR },
        type: 'transaction',
        condition: { op: 'or', inner: [{ op: 'glob', name: 'event.transaction', value: HEALTH_CHECK_GLOBS }] },
        id: RULE_IDS.ignoreHealthChecks,
      },
    ],
  },
  {
    id: 'boostReplayId',
    rules: () => [
      {
        samplingValue: { type: 'sampleRate', value: 1.0 },
        type: 'trace',
        condition: { op: 'not', inner: { op: 'eq', name: 'trace.replay_id', value: null, options: { ignoreCase: true } } },
        id: RULE_IDS.boostReplayId,
      },
    ],
  },
  {
    id: 'boostEnvironments',
    rules: () => [
      {
        samplingValue: { type: 'sampleRate', value: 1.0 },
        type: 'trace',
        condition: { op: 'or', inner: [{ op: 'glob', name: 'trace.environment', value: ENVIRONMENT_GLOBS }] },
        id: RULE_IDS.boostEnvironments,
      },
    ],
  },
  {
    id: 'minimumSampleRate',
    anyRate: true,
    rules: (rate) => [{ samplingValue: { type: 'minimumSampleRate', value: rate }, type: 'trace', condition: {}, id: RULE_IDS.minimumSampleRate }],
  },
];

/**
 * The rules for one project: the active biases in Sentry's order, then the uniform rule at the
 * target rate. At a rate of 1.0 (or 0) the biases are pointless and only the uniform rule is sent,
 * as in Sentry.
 */
export function generateRules(rate: number, biases: readonly DynamicSamplingBias[]): SamplingRule[] {
  const active = new Set(biases.filter((b) => b.active).map((b) => b.id));
  const rules: SamplingRule[] = [];
  for (const bias of BIASES) {
    if (active.has(bias.id) && (bias.anyRate || (rate > 0 && rate < 1))) rules.push(...bias.rules(rate));
  }
  rules.push({ samplingValue: { type: 'sampleRate', value: rate }, type: 'trace', condition: EVERYTHING, id: RULE_IDS.uniform });
  return rules;
}
