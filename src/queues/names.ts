/** Queue names (DESIGN.md): builds and invalidations never share a queue. */
export const BUILD_QUEUE = 'relay-config-build';
export const INVALIDATE_QUEUE = 'relay-config-invalidate';
