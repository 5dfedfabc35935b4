import { defineSection } from '../section';

const KEY_QUOTA_CATEGORIES = ['default', 'error', 'security'];

/** A key rate limit as a Relay quota (count per window, key scope), behind `projects:rate-limits` as in Sentry; left out without one. */
export const quotasSection = defineSection({
  name: 'quotas',
  fields: ['quotas'],
  reads: { keyColumns: ['id', 'rateLimitCount', 'rateLimitWindow'], features: ['projects:rate-limits'] },
  restricted: false,
  build: ({ key, feature }) => {
    const count = key.rateLimitCount;
    const window = key.rateLimitWindow;
    if (!feature('projects:rate-limits') || count === null || count === undefined || !window) return {};
    return {
      quotas: [{ id: 'k', scope: 'key', scopeId: String(key.id), categories: KEY_QUOTA_CATEGORIES, limit: count, window, reasonCode: 'key_quota' }],
    };
  },
});
