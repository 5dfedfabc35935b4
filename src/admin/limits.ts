/** The largest JSON body the management API reads (avatars arrive base64-encoded inside it). */
export const ADMIN_BODY_LIMIT_BYTES = 2 * 1024 * 1024;
