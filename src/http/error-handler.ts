import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { isRedisUnavailable } from '../caches/redis';
import { isPostgresUnavailable } from '../db/availability';
import { clip } from '../logger';
import { AppError, BadRequestError, INTERNAL_ERROR, MalformedJsonError, type ErrorCode, NotFoundError, PayloadTooLargeError, ServiceUnavailableError, UndecodableBodyError, UnsupportedEncodingError, UnsupportedMediaTypeError } from '../errors';

const ACCEPTED_ENCODINGS = 'send the body uncompressed (identity) or as gzip, deflate or br';

/** What zlib throws for bytes that are not the stream they claim to be (bad header, truncated, bad brotli). */
function isDecompressionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR__ERROR_') || code.startsWith('ERR_BROTLI'));
}

/** Client-error statuses of http-errors that have a code of their own; any other is a plain 400. */
const CLIENT_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  431: 'request_header_fields_too_large',
};

/** Maps what body-parser, Redis and PostgreSQL throw onto the error catalogue. */
export function toAppError(error: unknown): AppError | null {
  if (error instanceof AppError) return error;
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.parse.failed') return new MalformedJsonError();
  if (type === 'entity.too.large') {
    const limit = (error as { limit?: unknown }).limit;
    return new PayloadTooLargeError(typeof limit === 'number' ? `${limit} bytes` : 'the limit');
  }
  if (type === 'encoding.unsupported') return new UnsupportedEncodingError(ACCEPTED_ENCODINGS);
  if (type === 'charset.unsupported') return new UnsupportedMediaTypeError();
  if (type === 'request.aborted' || type === 'request.size.invalid' || type === 'stream.encoding.set') {
    return new BadRequestError('The request body could not be read', 'request_unreadable');
  }
  if (isDecompressionError(error)) return new UndecodableBodyError();
  // The router could not percent-decode a path segment (it marks the URIError 400).
  if (error instanceof URIError && (error as { status?: unknown }).status === 400) return new BadRequestError('Malformed percent-encoding in the URL path', 'request_unreadable');
  // Anything else body-parser or http-errors marked as the client's fault stays a 4xx.
  const status = (error as { status?: unknown } | null)?.status;
  if ((error as { expose?: unknown } | null)?.expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError(CLIENT_STATUS_CODES[status] ?? 'request_unreadable', 'The request could not be read');
  }
  if (isRedisUnavailable(error)) return new ServiceUnavailableError('redis');
  if (isPostgresUnavailable(error)) return new ServiceUnavailableError('postgres');
  return null;
}

/**
 * An error as logged: a database error's message holds the failing statement with its values, and
 * its stack repeats the message, so the message is clipped and the stack keeps only its frames.
 */
function loggable(error: unknown): unknown {
  if (!(error instanceof Error) || error.message.length <= 1000) return error;
  const copy = new Error(clip(error.message, 1000));
  const frames = (error.stack ?? '').split('\n').filter((line) => line.startsWith('    at '));
  copy.name = error.name;
  copy.stack = [`${error.name}: ${copy.message}`, ...frames].join('\n');
  return Object.assign(copy, { code: (error as { code?: unknown }).code });
}

/** An error as its response: catalogue errors as they say, anything else a logged 500. */
export function errorResponse(error: unknown, logger: Logger, request: { method: string; path: string }): { status: number; headers: Record<string, string>; body: unknown } {
  const appError = toAppError(error);
  if (!appError) {
    logger.error({ err: loggable(error), method: request.method, path: request.path }, 'unhandled error');
    return { status: INTERNAL_ERROR.status, headers: {}, body: INTERNAL_ERROR.body };
  }
  if (appError.status >= 500) logger.warn({ code: appError.code, path: request.path }, appError.message);
  return { status: appError.status, headers: appError.headers, body: appError.body };
}

/** The one place errors become responses (errorResponse), for every route in Express. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    if (res.headersSent) {
      logger.error({ err: error, path: req.path }, 'error after the response started');
      res.destroy();
      return;
    }
    const response = errorResponse(error, logger, req);
    res.status(response.status).set(response.headers).json(response.body);
  };
}

/** JSON 404 for every path no route took. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`No route for ${req.method} ${req.path}`));
};
