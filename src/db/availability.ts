/** True for errors that mean PostgreSQL cannot be reached right now (not for bad queries). */
export function isPostgresUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // MikroORM wraps connection failures of the driver in a ConnectionException.
  if (error.name === 'ConnectionException') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300'].includes(code) || code.startsWith('08'))) {
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
