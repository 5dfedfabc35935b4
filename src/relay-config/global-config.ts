/**
 * The v3 global config (`global: true`): Sentry's defaults (FULL_CONFIG.md §10), with the
 * operator's `RELAY_GLOBAL_CONFIG` merged over them. Relay waits for a global config before it
 * processes envelopes, and without `measurements` it neither knows the built-in measurements'
 * units nor limits custom measurements.
 */

type Unit = 'millisecond' | 'none' | 'ratio';

/** Sentry's BUILTIN_MEASUREMENTS, in Sentry's order. */
const BUILTIN_MEASUREMENTS: readonly [string, Unit][] = [
  ['app_start_cold', 'millisecond'],
  ['app_start_warm', 'millisecond'],
  ['cls', 'none'],
  ['fcp', 'millisecond'],
  ['fid', 'millisecond'],
  ['fp', 'millisecond'],
  ['frames_frozen_rate', 'ratio'],
  ['frames_frozen', 'none'],
  ['frames_slow_rate', 'ratio'],
  ['frames_slow', 'none'],
  ['frames_total', 'none'],
  ['inp', 'millisecond'],
  ['lcp', 'millisecond'],
  ['stall_count', 'none'],
  ['stall_longest_time', 'millisecond'],
  ['stall_percentage', 'ratio'],
  ['stall_total_time', 'millisecond'],
  ['ttfb.requesttime', 'millisecond'],
  ['ttfb', 'millisecond'],
  ['time_to_full_display', 'millisecond'],
  ['time_to_initial_display', 'millisecond'],
];

/** Sentry's CUSTOM_MEASUREMENT_LIMIT, also sent per project in `transactionMetrics`. */
export const CUSTOM_MEASUREMENT_LIMIT = 10;

const AI_OPERATION_TYPES: readonly [string, 'agent' | 'ai_client' | 'tool' | 'handoff'][] = [
  ['ai.streamText.doStream*', 'ai_client'],
  ['ai.generateText.doGenerate*', 'ai_client'],
  ...(
    [
      'ai.run.generateText',
      'ai.run.generateObject',
      'gen_ai.invoke_agent',
      'ai.pipeline.generate_text',
      'ai.pipeline.generate_object',
      'ai.pipeline.stream_text',
      'ai.pipeline.stream_object',
      'gen_ai.create_agent',
      'invoke_agent',
      'create_agent',
      'ai.streamText*',
      'ai.generateText*',
    ] as const
  ).map((op) => [op, 'agent'] as [string, 'agent']),
  ['gen_ai.execute_tool', 'tool'],
  ['execute_tool', 'tool'],
  ['ai.toolCall*', 'tool'],
  ['gen_ai.handoff', 'handoff'],
  ['handoff', 'handoff'],
  ['*', 'ai_client'],
];

/**
 * The Relay options Sentry registers with a value (its RELAY_OPTIONS whose default is not None),
 * limited to the ones whose registered defaults are certain; Relay uses its own default for any
 * option that is absent.
 */
const RELAY_OPTIONS: Record<string, unknown> = {
  'profiling.profile_metrics.unsampled_profiles.platforms': [],
  'profiling.profile_metrics.unsampled_profiles.sample_rate': 0.0,
  'profiling.profile_metrics.unsampled_profiles.enabled': false,
  'relay.span-usage-metric': false,
  'relay.cardinality-limiter.mode': 'enabled',
  'relay.span-normalization.allowed_hosts': [],
  'relay.drop-transaction-attachments': false,
  'replay.relay-snuba-publishing-disabled.sample-rate': 0.0,
};

/** A fresh copy of Sentry's default global config (callers may mutate it). */
export function defaultGlobalConfig(): Record<string, unknown> {
  return {
    measurements: {
      builtinMeasurements: BUILTIN_MEASUREMENTS.map(([name, unit]) => ({ name, unit })),
      maxCustomMeasurements: CUSTOM_MEASUREMENT_LIMIT,
    },
    aiOperationTypeMap: { version: 1, operationTypes: Object.fromEntries(AI_OPERATION_TYPES) },
    spanOpDefaults: {
      rules: [{ condition: { op: 'not', inner: { op: 'eq', name: 'span.data.messaging\\.system', value: null } }, value: 'message' }],
    },
    options: structuredClone(RELAY_OPTIONS),
  };
}

/** The operator's top-level keys replace the defaults' keys; a `null` value removes the key. */
export function mergeGlobalConfig(operator: Record<string, unknown>): Record<string, unknown> {
  const merged = defaultGlobalConfig();
  for (const [key, value] of Object.entries(operator)) {
    if (value === null) delete merged[key];
    // defineProperty: a `__proto__` key from JSON is data, not the prototype.
    else Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}
