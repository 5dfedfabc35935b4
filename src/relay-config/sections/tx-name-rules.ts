import type { TxNameClusterRule } from '../../options/registry';
import { defineSection } from '../section';

/** What Relay gets per rule: the glob, when it stops applying, and Sentry's fixed redaction. */
export interface TxNameRule {
  pattern: string;
  expiry: string;
  redaction: { method: 'replace'; substitution: '*' };
}

declare module '../types' {
  interface ProjectConfigBody {
    txNameRules?: TxNameRule[];
  }
}

/** Sentry's `TRANSACTION_NAME_RULE_TTL_SECS`: a rule lives 90 days past its last match. */
export const TX_NAME_RULE_TTL_SECONDS = 90 * 24 * 3600;

/** Unix seconds to Sentry's expiry format: ISO-8601 in UTC, whole seconds, `Z`. */
function expiryOf(lastSeen: number): string {
  return new Date((lastSeen + TX_NAME_RULE_TTL_SECONDS) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The most specific globs (most path segments) first, as Sentry sorts them: Relay applies the first match. */
function bySpecificity(rules: readonly TxNameClusterRule[]): TxNameClusterRule[] {
  const slashes = (pattern: string) => pattern.split('/').length - 1;
  return [...rules].sort((a, b) => slashes(b.pattern) - slashes(a.pattern));
}

/** The clusterer's transaction name rules, behind `organizations:transaction-name-normalize` as in Sentry; left out when there are none. */
export const txNameRulesSection = defineSection({
  name: 'tx-name-rules',
  fields: ['txNameRules'],
  reads: { projectOptions: ['sentry:transaction_name_cluster_rules'], features: ['organizations:transaction-name-normalize'] },
  // Sentry's restricted config keeps `txNameRules` (CONFIG.md "Restricted config").
  restricted: true,
  build: ({ projectOption, feature }) => {
    const rules = projectOption('sentry:transaction_name_cluster_rules');
    if (!feature('organizations:transaction-name-normalize') || rules.length === 0) return {};
    return { txNameRules: bySpecificity(rules).map((r) => ({ pattern: r.pattern, expiry: expiryOf(r.lastSeen), redaction: { method: 'replace', substitution: '*' } })) };
  },
});
