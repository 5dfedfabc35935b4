import { createServer, STATUS_CODES, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from '../errors';

/**
 * Listens with keep-alive settings suited to Relay, which pools connections and does not retry a
 * failed config request: idle sockets stay open longer than common client idle timeouts.
 */
export async function listen(app: RequestListener, port: number, host?: string): Promise<Server> {
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** What Node's HTTP parser refuses, as catalogue errors (a JSON body like every other error). */
const CLIENT_ERRORS: Record<string, AppError> = {
  HPE_HEADER_OVERFLOW: new AppError('request_header_fields_too_large', 'The request headers are too large'),
  ERR_HTTP_REQUEST_TIMEOUT: new AppError('request_timeout', 'The request was not received in time'),
  HPE_CHUNK_EXTENSIONS_OVERFLOW: new AppError('payload_too_large', 'The chunk extensions are too large'),
};
const NOT_HTTP = new AppError('request_unreadable', 'The request is not valid HTTP/1.1');

/**
 * A request Node's parser cannot read (bad `Content-Length`, bad header bytes, a timeout) never
 * reaches Express; answer it as Express would, in JSON, instead of Node's empty 400.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const answer = CLIENT_ERRORS[error.code ?? ''] ?? NOT_HTTP;
  const body = JSON.stringify(answer.body);
  socket.end(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes idle sockets. */
export async function closeServer(server: Server, graceMs = 10_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}
