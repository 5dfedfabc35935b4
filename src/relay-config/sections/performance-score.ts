import type { PerformanceScoreProfile, RuleCondition } from '../types';
import { defineSection } from '../section';
import { shared } from '../serialize';

/**
 * Sentry's web-vital score profiles (FULL_CONFIG.md §4.3): per browser, the weight and the p10/p50
 * of each vital, so Relay can compute `score.*` measurements. The "Mobile" profile only with
 * `organizations:performance-calculate-mobile-perf-score-relay`, before the two defaults.
 */

type Component = PerformanceScoreProfile['scoreComponents'][number];

const component = (measurement: string, weight: number, p10: number, p50: number, optional: boolean): Component => ({ measurement, weight, p10, p50, optional });

const browser = (name: string): RuleCondition => ({ op: 'eq', name: 'event.contexts.browser.name', value: name });

/** fcp, lcp, cls, ttfb at the given thresholds; `strict` lists the vitals the browser does not report (weight 0, required). */
function vitals(thresholds: Thresholds, strict: readonly ('lcp' | 'cls')[] = []): Component[] {
  const zero = (m: 'lcp' | 'cls') => strict.includes(m);
  return [
    component('fcp', 0.15, ...thresholds.fcp, true),
    zero('lcp') ? component('lcp', 0.0, ...thresholds.lcp, false) : component('lcp', 0.3, ...thresholds.lcp, true),
    zero('cls') ? component('cls', 0.0, 0.1, 0.25, false) : component('cls', 0.15, 0.1, 0.25, true),
    component('ttfb', 0.1, ...thresholds.ttfb, true),
  ];
}

type Thresholds = { fcp: [number, number]; lcp: [number, number]; ttfb: [number, number] };
const DESKTOP: Thresholds = { fcp: [900, 1600], lcp: [1200, 2400], ttfb: [200, 400] };
const MOBILE: Thresholds = { fcp: [1800, 3000], lcp: [2500, 4000], ttfb: [800, 1800] };
const INP = [component('inp', 1.0, 200, 500, false)];

const profile = (name: string, scoreComponents: Component[], condition: RuleCondition): PerformanceScoreProfile => ({ name, scoreComponents, condition });

const BROWSER_PROFILES: readonly PerformanceScoreProfile[] = [
  profile('Chrome', vitals(DESKTOP), browser('Chrome')),
  profile('Firefox', vitals(DESKTOP, ['cls']), browser('Firefox')),
  profile('Safari', vitals(DESKTOP, ['lcp', 'cls']), browser('Safari')),
  profile('Edge', vitals(DESKTOP), browser('Edge')),
  profile('Opera', vitals(DESKTOP), browser('Opera')),
  profile('Chrome INP', INP, { op: 'or', inner: [browser('Chrome'), browser('Google Chrome')] }),
  profile('Edge INP', INP, { op: 'or', inner: [browser('Edge')] }),
  profile('Opera INP', INP, { op: 'or', inner: [browser('Opera')] }),
  profile('Chrome Mobile', vitals(MOBILE), browser('Chrome Mobile')),
  profile('Firefox Mobile', vitals(MOBILE, ['cls']), browser('Firefox Mobile')),
  profile('Safari Mobile', vitals(MOBILE, ['lcp', 'cls']), browser('Mobile Safari')),
  profile('Edge Mobile', vitals(MOBILE), browser('Edge Mobile')),
  profile('Opera Mobile', vitals(MOBILE), browser('Opera Mobile')),
  profile('Chrome Mobile INP', INP, { op: 'or', inner: [browser('Chrome Mobile')] }),
  profile('Edge Mobile INP', INP, { op: 'or', inner: [browser('Edge Mobile')] }),
  profile('Opera Mobile INP', INP, { op: 'or', inner: [browser('Opera Mobile')] }),
];

const MOBILE_APP_PROFILE: PerformanceScoreProfile = {
  name: 'Mobile',
  scoreComponents: [
    component('time_to_initial_display', 0.25, 1800, 3000, true),
    component('time_to_full_display', 0.25, 2500, 4000, true),
    component('app_start_warm', 0.25, 200, 500, true),
    component('app_start_cold', 0.25, 200, 500, true),
  ],
  condition: {
    op: 'and',
    inner: [
      { op: 'or', inner: [{ op: 'eq', name: 'event.sdk.name', value: 'sentry.cocoa' }, { op: 'eq', name: 'event.sdk.name', value: 'sentry.java.android' }] },
      { op: 'eq', name: 'event.contexts.trace.op', value: 'ui.load' },
    ],
  },
  version: 'mobile.alpha',
};

const DEFAULT_PROFILES: readonly PerformanceScoreProfile[] = [
  profile('Default', vitals(DESKTOP), { op: 'and', inner: [] }),
  profile('Default INP', INP, { op: 'and', inner: [] }),
];

// The same in every config (one of the two): built and serialised once.
const WEB_ONLY = shared({ profiles: [...BROWSER_PROFILES, ...DEFAULT_PROFILES] });
const WITH_MOBILE_APP = shared({ profiles: [...BROWSER_PROFILES, MOBILE_APP_PROFILE, ...DEFAULT_PROFILES] });

export const performanceScoreSection = defineSection({
  name: 'performance-score',
  fields: ['performanceScore'],
  reads: { features: ['organizations:performance-calculate-mobile-perf-score-relay'] },
  restricted: false,
  build: ({ feature }) => ({
    performanceScore: feature('organizations:performance-calculate-mobile-perf-score-relay') ? WITH_MOBILE_APP : WEB_ONLY,
  }),
});
