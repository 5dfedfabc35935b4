/**
 * The error catalogue: every error a client can see, with a stable `code`, its HTTP status and a
 * message a user can act on. Handlers throw these; one middleware turns them into responses.
 */

export type ErrorBody = { detail: string } | Record<string, string[]> | string;

export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    /** The exact JSON body, when the protocol prescribes one other than `{detail: message}`. */
    readonly body: ErrorBody = { detail: message },
    /** Extra response headers (e.g. `WWW-Authenticate`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(detail: string, code = 'bad_request') {
    super(code, 400, detail);
  }
}

/** Field-level validation errors: `{"<field>": ["message", ...]}` with 400. */
export class ValidationError extends AppError {
  constructor(readonly fields: Record<string, string[]>) {
    super('validation_failed', 400, Object.entries(fields).map(([f, m]) => `${f}: ${m.join(' ')}`).join('; '), fields);
  }
}

export class MalformedJsonError extends AppError {
  constructor() {
    super('malformed_json', 400, 'Malformed JSON in the request body');
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limit: string) {
    // Closing the connection spares waiting for (and reading) a body that is refused anyway.
    super('payload_too_large', 413, `Request body is larger than ${limit}`, undefined, { Connection: 'close' });
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor() {
    super('unsupported_media_type', 415, 'Send the request body as application/json');
  }
}

/** A `Content-Encoding` this endpoint does not decode. */
export class UnsupportedEncodingError extends AppError {
  constructor(accepted: string) {
    super('unsupported_content_encoding', 415, `Unsupported Content-Encoding: ${accepted}`);
  }
}

/** The body claims a `Content-Encoding` its bytes do not hold (bad or truncated gzip, deflate, br). */
export class UndecodableBodyError extends AppError {
  constructor() {
    super('undecodable_body', 400, 'The request body could not be decompressed: its bytes do not match its Content-Encoding');
  }
}

export class UnauthorizedError extends AppError {
  constructor(detail = 'Authentication credentials were not provided.', headers: Record<string, string> = {}) {
    super('unauthorized', 401, detail, { detail }, headers);
  }
}

export class ForbiddenError extends AppError {
  constructor(detail = 'You do not have permission to perform this action.', body?: ErrorBody) {
    super('forbidden', 403, detail, body ?? { detail });
  }
}

export class NotFoundError extends AppError {
  constructor(detail = 'The requested resource does not exist') {
    super('not_found', 404, detail);
  }
}

export class ConflictError extends AppError {
  constructor(detail: string) {
    super('conflict', 409, detail);
  }
}

/** PostgreSQL or Redis is really unavailable; the client may retry. */
export class ServiceUnavailableError extends AppError {
  constructor(readonly dependency: 'postgres' | 'redis', detail?: string) {
    super('service_unavailable', 503, detail ?? `Temporarily unavailable: ${dependency === 'redis' ? 'Redis' : 'PostgreSQL'} cannot be reached`, undefined, {
      'Retry-After': '1',
    });
  }
}

/** Too many requests from one client address; `Retry-After` (seconds) says when to come back. */
export class TooManyRequestsError extends AppError {
  constructor(retryAfterS: number) {
    const detail = `Request was throttled. Expected available in ${retryAfterS} seconds.`;
    super('rate_limited', 429, detail, { detail }, { 'Retry-After': String(retryAfterS) });
  }
}
