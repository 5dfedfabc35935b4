import { defineSection } from '../section';

const KEY_QUOTA_CATEGORIES = ['default', 'error', 'security'];

/** A key rate limit as a Relay quota (count per window, key scope); left out without one. */
export const quotasSection = defineSection({
  name: 'quotas',
  fields: ['quotas'],
  reads: { keyColumns: ['id', 'rateLimitCount', 'rateLimitWindow'] },
  restricted: false,
  build: ({ key }) => {
    const count = key.rateLimitCount;
    const window = key.rateLimitWindow;
    if (count === null || count === undefined || !window) return {};
    return {
      quotas: [{ id: 'k', scope: 'key', scopeId: String(key.id), categories: KEY_QUOTA_CATEGORIES, limit: count, window, reasonCode: 'key_quota' }],
    };
  },
});
