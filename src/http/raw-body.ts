import type { RequestHandler } from 'express';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';

/**
 * Reads the request body as raw bytes into `req.body` (signatures are verified over the exact
 * bytes, before any parsing). A minimal stand-in for `express.raw` on the Relay routes: no
 * content-type negotiation, which these endpoints do not need, and far less work per request.
 */
export function rawBody(limitBytes: number): RequestHandler {
  return (req, _res, next) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limitBytes) {
      req.resume();
      next(new PayloadTooLargeError(`${limitBytes} bytes`));
      return;
    }
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding !== 'identity') {
      req.resume();
      next(new UnsupportedMediaTypeError());
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
