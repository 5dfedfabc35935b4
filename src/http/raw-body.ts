import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { PayloadTooLargeError, UnsupportedEncodingError } from '../errors';
import type { AuthOutcome } from '../relay-auth/middleware';

/**
 * A body read before the request reached Express (the config poll lane hands such requests on),
 * with the signature check's outcome when it was made.
 */
const preRead = new WeakMap<IncomingMessage, { body: Buffer; startedAt: bigint; authenticated?: AuthOutcome }>();

/**
 * Marks `req`'s body as read already: `rawBody` takes these bytes instead of reading the stream.
 * `startedAt` is when the request arrived (`process.hrtime.bigint()`), for its duration metric.
 */
export function setPreReadBody(req: IncomingMessage, body: Buffer, startedAt: bigint, authenticated?: AuthOutcome): void {
  preRead.set(req, { body, startedAt, authenticated });
}

/** When a handed-over request arrived (before its body was read), if it was handed over. */
export function handedOverAt(req: IncomingMessage): bigint | undefined {
  return preRead.get(req)?.startedAt;
}

/** The signature check's outcome the lane left with a handed-over request (undefined: none). */
export function preAuthenticated(req: IncomingMessage): AuthOutcome | undefined {
  return preRead.get(req)?.authenticated;
}

/**
 * Reads the request body as raw bytes into `req.body` (signatures are verified over the exact
 * bytes, before any parsing). A minimal stand-in for `express.raw` on the Relay routes: no
 * content-type negotiation, which these endpoints do not need, and far less work per request.
 */
export function rawBody(limitBytes: number): RequestHandler {
  return (req, _res, next) => {
    const handedOver = preRead.get(req);
    if (handedOver) {
      req.body = handedOver.body;
      next();
      return;
    }
    const oversize = declaredOversize(req, limitBytes);
    if (oversize) {
      next(oversize);
      return;
    }
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding.toLowerCase() !== 'identity') {
      req.resume();
      next(new UnsupportedEncodingError('the Relay endpoints take the body uncompressed (identity)'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limitBytes) {
        failed = true;
        next(new PayloadTooLargeError(`${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (failed) return;
      req.body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      next();
    });
    req.on('error', (error) => {
      if (failed) return;
      failed = true;
      next(Object.assign(error, { type: 'request.aborted' }));
    });
  };
}

/** A 413 when the declared `Content-Length` is over the limit, else null. */
function declaredOversize(req: IncomingMessage, limitBytes: number): PayloadTooLargeError | null {
  return Number(req.headers['content-length'] ?? 0) > limitBytes ? new PayloadTooLargeError(`${limitBytes} bytes`) : null;
}

/**
 * 413 at once when the declared `Content-Length` is over the limit: the body is never awaited,
 * so a client that declares megabytes and sends two bytes gets its answer without a timeout.
 */
export function refuseDeclaredOversize(limitBytes: number): RequestHandler {
  return (req, _res, next) => next(declaredOversize(req, limitBytes) ?? undefined);
}
