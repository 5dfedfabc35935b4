import type { FilterSettings } from '../types';
import { defineSection, unique } from '../section';

/** Health-check transaction names dropped by the `filtered-transaction` filter. */
export const HEALTH_CHECK_PATTERNS = [
  '*healthcheck*',
  '*healthy*',
  '*live*',
  '*ready*',
  '*heartbeat*',
  '*/health',
  '*/healthz',
  '*/ping',
];

/** CSP report sources that are noise from browsers and extensions, dropped unless turned off. */
export const DEFAULT_CSP_DISALLOWED_SOURCES = [
  'about',
  'ms-browser-extension',
  'chrome://*',
  'chrome-extension://*',
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
  '*.metrics.itunes.apple.com',
  'blob:',
];

/** Inbound filters; the field is left out when no filter is on. */
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
      'sentry:error_messages',
      'sentry:releases',
      'sentry:blacklisted_ips',
      'sentry:csp_ignored_sources_defaults',
      'sentry:csp_ignored_sources',
    ],
  },
  restricted: false,
  build: ({ projectOption }) => {
    const filters: FilterSettings = {};
    const on = (name: 'filters:browser-extensions' | 'filters:localhost' | 'filters:web-crawlers' | 'filters:filtered-transaction') => projectOption(name) === '1';
    if (on('filters:browser-extensions')) filters.browserExtensions = { isEnabled: true };
    if (on('filters:localhost')) filters.localhost = { isEnabled: true };
    if (on('filters:web-crawlers')) filters.webCrawlers = { isEnabled: true };
    const legacy = projectOption('filters:legacy-browsers');
    const legacyOptions = legacy === '1' ? ['default'] : Array.isArray(legacy) ? legacy : [];
    if (legacyOptions.length > 0) filters.legacyBrowsers = { isEnabled: true, options: legacyOptions };
    if (on('filters:filtered-transaction')) filters.ignoreTransactions = { patterns: HEALTH_CHECK_PATTERNS, isEnabled: true };
    const errorMessages = projectOption('sentry:error_messages');
    if (errorMessages.length > 0) filters.errorMessages = { patterns: errorMessages };
    const releases = projectOption('sentry:releases');
    if (releases.length > 0) filters.releases = { releases };
    const blacklistedIps = projectOption('sentry:blacklisted_ips');
    if (blacklistedIps.length > 0) filters.clientIps = { blacklistedIps };
    const csp = unique([
      ...(projectOption('sentry:csp_ignored_sources_defaults') ? DEFAULT_CSP_DISALLOWED_SOURCES : []),
      ...projectOption('sentry:csp_ignored_sources'),
    ]);
    if (csp.length > 0) filters.csp = { disallowedSources: csp };
    return Object.keys(filters).length > 0 ? { filterSettings: filters } : {};
  },
});
