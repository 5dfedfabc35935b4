/** True for errors that mean PostgreSQL cannot be reached right now (not for bad queries). */
export function isPostgresUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // MikroORM wraps connection failures of the driver in a ConnectionException.
  if (error.name === 'ConnectionException') return true;
  const code = (error as { code?: unknown }).code;
  // Connection exceptions (class 08) except 08P01, a protocol violation caused by the request itself.
  const unavailableCodes = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006'];
  if (typeof code === 'string' && unavailableCodes.includes(code)) {
    return true;
  }
  const message = error.message;
  return (
    message.includes('Timeout acquiring a connection') ||
    message.includes('Connection terminated') ||
    message.includes('Connection ended unexpectedly') ||
    message.includes('timeout exceeded when trying to connect')
  );
}
