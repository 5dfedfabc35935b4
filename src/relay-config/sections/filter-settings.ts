import type { FilterSettings, RuleCondition } from '../types';
import { defineSection } from '../section';
import { shared } from '../serialize';

/**
 * Sentry's HEALTH_CHECK_GLOBS (SNAP-2025): whole path segments, so `/deliveries` or `/readme` are
 * not health checks. Used by the `filtered-transaction` filter and the ignore-health-checks bias.
 */
export const HEALTH_CHECK_GLOBS = [
  '*healthcheck*',
  '*heartbeat*',
  '*/health{/,}',
  '*/healthy{/,}',
  '*/healthz{/,}',
  '*/health_check{/,}',
  '*/_health{/,}',
  '*/\\[_health\\]{/,}',
  '*/live{/,}',
  '*/livez{/,}',
  '*/ready{/,}',
  '*/readyz{/,}',
  '*/ping{/,}',
  '*/up{/,}',
];

/** Sentry's DEFAULT_DISALLOWED_SOURCES, in Sentry's order with its duplicates (Relay does not mind them). */
export const DEFAULT_CSP_DISALLOWED_SOURCES = [
  'about',
  'ms-browser-extension',
  'chrome://*',
  'chrome-extension://*',
  'chrome-extension',
  'chromeinvokeimmediate://*',
  'chromenull://*',
  'data:text/html,chromewebdata',
  'safari-extension://*',
  'safari-web-extension://*',
  'mxaddon-pkg://*',
  'jar://*',
  'webviewprogressproxy://*',
  'ms-browser-extension://*',
  'tmtbff://*',
  'mbinit://*',
  'symres://*',
  'resource://*',
  'moz-extension://*',
  '*.metrext.com',
  'static.image2play.com',
  '*.tlscdn.com',
  '73a5b0806e464be8bd4e694c744624f0.com',
  '020dfefc4ac745dab7594f2f771c1ded.com',
  '*.superfish.com',
  'addons.mozilla.org',
  'v.zilionfast.in',
  'widgets.amung.us',
  '*.superfish.com',
  'xls.searchfun.in',
  'istatic.datafastguru.info',
  'v.zilionfast.in',
  'localhost',
  'resultshub-a.akamaihd.net',
  'pulseadnetwork.com',
  'gateway.zscalertwo.net',
  'www.passpack.com',
  'middlerush-a.akamaihd.net',
  'www.websmartcenter.com',
  'a.linkluster.com',
  'saveyoutime.ru',
  'cdncache-a.akamaihd.net',
  'x.rafomedia.com',
  'savingsslider-a.akamaihd.net',
  'injections.adguard.com',
  'icontent.us',
  'amiok.org',
  'connectionstrenth.com',
  'siteheart.net',
  'netanalitics.space',
  'printapplink.com',
  'godlinkapp.com',
  'devappstor.com',
  'hoholikik.club',
  'smartlink.cool',
  'promfflinkdev.com',
];

const glob = (name: string, pattern: string): RuleCondition => ({ op: 'glob', name, value: [pattern] });
const anyException = (inner: RuleCondition): RuleCondition => ({ op: 'any', name: 'event.exception.values', inner });
const typeAndValue = (type: string, value: string): RuleCondition => ({ op: 'and', inner: [glob('ty', type), glob('value', value)] });

/** Sentry's built-in generic filters, in Sentry's order: id → condition. */
export const GENERIC_FILTERS = {
  'chunk-load-error': anyException({
    op: 'or',
    inner: [
      typeAndValue('ChunkLoadError', 'Loading chunk *'),
      typeAndValue('*Uncaught *', 'ChunkLoadError: Loading chunk *'),
      typeAndValue('Error', 'Uncaught (in promise): ChunkLoadError*'),
    ],
  }),
  'react-hydration-errors': anyException({
    op: 'or',
    inner: [glob('value', '*https://reactjs.org/docs/error-decoder.html?invariant={418,419,422,423,425}*'), glob('value', '*https://react.dev/errors/{418,419,422,423,425}*')],
  }),
} as const;

/** The version of `filterSettings.generic` Relay must support. */
const GENERIC_FILTERS_VERSION = 1;

/** The same in every config that takes them: serialised once (and stored once per gzip reply, serialize.ts). */
const DEFAULT_GENERIC = shared({
  version: GENERIC_FILTERS_VERSION,
  filters: [
    { id: 'chunk-load-error', isEnabled: true as const, condition: GENERIC_FILTERS['chunk-load-error'] },
    { id: 'react-hydration-errors', isEnabled: true as const, condition: GENERIC_FILTERS['react-hydration-errors'] },
  ],
});
const DEFAULT_CSP = shared({ disallowedSources: [...DEFAULT_CSP_DISALLOWED_SOURCES] });

/** The same in every config that filters health checks: serialised once. */
const IGNORE_HEALTH_CHECKS = shared({ patterns: [...HEALTH_CHECK_GLOBS], isEnabled: true as const });

type Switch = 'filters:browser-extensions' | 'filters:localhost' | 'filters:web-crawlers' | 'filters:filtered-transaction' | 'filters:chunk-load-error' | 'filters:react-hydration-errors';

/**
 * Inbound filters (FULL_CONFIG.md §4.1): the built-in filters that are on, Sentry's generic
 * filters, the custom filters behind `projects:custom-inbound-filters`, client IPs and CSP
 * sources. The field is left out when no filter is on.
 */
export const filterSettingsSection = defineSection({
  name: 'filter-settings',
  fields: ['filterSettings'],
  reads: {
    projectOptions: [
      'filters:browser-extensions',
      'filters:localhost',
      'filters:web-crawlers',
      'filters:legacy-browsers',
      'filters:filtered-transaction',
      'filters:chunk-load-error',
      'filters:react-hydration-errors',
      'sentry:error_messages',
      'sentry:releases',
      'sentry:log_messages',
      'sentry:trace_metric_names',
      'sentry:blacklisted_ips',
      'sentry:csp_ignored_sources_defaults',
      'sentry:csp_ignored_sources',
    ],
    features: ['projects:custom-inbound-filters', 'organizations:ourlogs-ingestion', 'organizations:tracemetrics-ingestion'],
  },
  restricted: false,
  build: ({ projectOption, feature }) => {
    const filters: FilterSettings = {};
    const on = (name: Switch) => projectOption(name) === '1';
    if (on('filters:browser-extensions')) filters.browserExtensions = { isEnabled: true };
    const blacklistedIps = projectOption('sentry:blacklisted_ips');
    if (blacklistedIps.length > 0) filters.clientIps = { blacklistedIps };
    if (on('filters:localhost')) filters.localhost = { isEnabled: true };
    if (on('filters:web-crawlers')) filters.webCrawlers = { isEnabled: true };
    const legacy = projectOption('filters:legacy-browsers');
    const legacyOptions = legacy === '1' ? ['default'] : Array.isArray(legacy) ? legacy : [];
    if (legacyOptions.length > 0) filters.legacyBrowsers = { isEnabled: true, options: legacyOptions };
    if (on('filters:filtered-transaction')) filters.ignoreTransactions = IGNORE_HEALTH_CHECKS;

    const generic: { id: string; isEnabled: true; condition: RuleCondition }[] = [];
    if (on('filters:chunk-load-error')) generic.push({ id: 'chunk-load-error', isEnabled: true, condition: GENERIC_FILTERS['chunk-load-error'] });
    if (on('filters:react-hydration-errors')) generic.push({ id: 'react-hydration-errors', isEnabled: true, condition: GENERIC_FILTERS['react-hydration-errors'] });

    // Read unconditionally: what a section reads must not depend on the values (see config-sections.test.ts).
    const custom = feature('projects:custom-inbound-filters');
    const releases = projectOption('sentry:releases');
    const errorMessages = projectOption('sentry:error_messages');
    const logMessages = projectOption('sentry:log_messages');
    const traceMetricNames = projectOption('sentry:trace_metric_names');
    const logs = feature('organizations:ourlogs-ingestion');
    const traceMetrics = feature('organizations:tracemetrics-ingestion');
    if (custom) {
      if (releases.length > 0) filters.releases = { releases };
      if (errorMessages.length > 0) filters.errorMessages = { patterns: errorMessages };
      if (logs && logMessages.length > 0) generic.push({ id: 'log-message', isEnabled: true, condition: { op: 'glob', name: 'log.body', value: logMessages } });
      if (traceMetrics && traceMetricNames.length > 0) generic.push({ id: 'trace-metric-name', isEnabled: true, condition: { op: 'glob', name: 'trace_metric.name', value: traceMetricNames } });
    }
    const builtInOnly = generic.length === 2 && generic.every((filter, i) => filter.id === DEFAULT_GENERIC.filters[i].id);
    if (generic.length > 0) filters.generic = builtInOnly ? DEFAULT_GENERIC : { version: GENERIC_FILTERS_VERSION, filters: generic };

    const customCsp = projectOption('sentry:csp_ignored_sources');
    const defaultCsp = projectOption('sentry:csp_ignored_sources_defaults');
    const csp = [...(defaultCsp ? DEFAULT_CSP_DISALLOWED_SOURCES : []), ...customCsp];
    if (defaultCsp && customCsp.length === 0) filters.csp = DEFAULT_CSP;
    else if (csp.length > 0) filters.csp = { disallowedSources: csp };
    return Object.keys(filters).length > 0 ? { filterSettings: filters } : {};
  },
});
