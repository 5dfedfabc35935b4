/**
 * The error catalogue: every error a client can see, with a stable `code`, its HTTP status and a
 * message a user can act on. Handlers throw these; one middleware turns them into responses. The
 * catalogue is closed: an `AppError` takes only a code listed here, and a test checks that every
 * code is documented in the README's error table.
 */
export const ERROR_CATALOGUE = {
  bad_request: { status: 400, description: 'the request is malformed (see `detail`)' },
  request_unreadable: { status: 400, description: 'the request or its body could not be read (aborted, bad length, bad percent-encoding, not HTTP/1.1)' },
  validation_failed: { status: 400, description: 'fields are invalid: the body is `{"<field>": ["message", …]}`' },
  malformed_json: { status: 400, description: 'the body is not JSON' },
  undecodable_body: { status: 400, description: 'the body does not decompress as its `Content-Encoding` says' },
  unsupported_version: { status: 400, description: 'a project-config version other than 1–3 (Relay\'s string body)' },
  relay_registration_invalid: { status: 400, description: 'a registration step is refused: bad body, signature or token, different public key (Sentry\'s `detail`)' },
  unauthorized: { status: 401, description: 'no valid credentials: API token, Bull Board login, or a relay signature (Relay\'s `detail`)' },
  relay_challenge_expired: { status: 401, description: 'the registration token is older than 60 s: register again' },
  forbidden: { status: 403, description: 'the token, its role or the relay may not do this' },
  relay_unauthorized: { status: 403, description: 'the relay is neither internal nor a permitted trusted relay (Relay\'s string body)' },
  relay_registration_refused: { status: 403, description: 'this relay may not register (`RELAY_OPEN_REGISTRATION=false` and not configured)' },
  not_found: { status: 404, description: 'no such route or resource, or not visible to this token' },
  conflict: { status: 409, description: 'a slug is taken, or a concurrent change won' },
  payload_too_large: { status: 413, description: 'the body (or its declared `Content-Length`) is over the limit' },
  unsupported_media_type: { status: 415, description: 'send the body as `application/json`' },
  unsupported_content_encoding: { status: 415, description: 'a `Content-Encoding` this endpoint does not decode' },
  request_header_fields_too_large: { status: 431, description: 'the request headers are too large' },
  rate_limited: { status: 429, description: 'too many registrations from this address; retry after `Retry-After` seconds' },
  internal_error: { status: 500, description: 'a bug: the request failed unexpectedly (logged with its details; the body has none)' },
  service_unavailable: { status: 503, description: 'PostgreSQL or Redis is really unavailable; retry after `Retry-After` seconds' },
  request_timeout: { status: 408, description: 'the request was not received in time' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export type ErrorBody = { detail: string } | Record<string, string[]> | string;

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The exact JSON body, when the protocol prescribes one other than `{detail: message}`. */
    readonly body: ErrorBody = { detail: message },
    /** Extra response headers (e.g. `WWW-Authenticate`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.status = ERROR_CATALOGUE[code].status;
  }
}

export class BadRequestError extends AppError {
  constructor(detail: string, code: 'bad_request' | 'request_unreadable' = 'bad_request') {
    super(code, detail);
  }
}

/** Field-level validation errors: `{"<field>": ["message", ...]}` with 400. */
export class ValidationError extends AppError {
  constructor(
    readonly fields: Record<string, string[]>,
    message = Object.entries(fields)
      .map(([f, m]) => `${f}: ${m.join(' ')}`)
      .join('; '),
  ) {
    super('validation_failed', message, fields);
  }
}

export class MalformedJsonError extends AppError {
  constructor() {
    super('malformed_json', 'Malformed JSON in the request body');
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limit: string) {
    super('payload_too_large', `Request body is larger than ${limit}`, undefined, { Connection: 'close' });
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor() {
    super('unsupported_media_type', 'Send the request body as application/json');
  }
}

/** A `Content-Encoding` this endpoint does not decode. */
export class UnsupportedEncodingError extends AppError {
  constructor(accepted: string) {
    super('unsupported_content_encoding', `Unsupported Content-Encoding: ${accepted}`);
  }
}

/** Bytes that do not decompress as their `Content-Encoding` claims (bad header, truncated, bad brotli). */
export class UndecodableBodyError extends AppError {
  constructor() {
    super('undecodable_body', 'The request body could not be decompressed: its bytes do not match its Content-Encoding');
  }
}

export class UnauthorizedError extends AppError {
  constructor(detail = 'Authentication credentials were not provided.', headers: Record<string, string> = {}) {
    super('unauthorized', detail, { detail }, headers);
  }
}

export class ForbiddenError extends AppError {
  constructor(detail = 'You do not have permission to perform this action.', body?: ErrorBody) {
    super('forbidden', detail, body ?? { detail });
  }
}

export class NotFoundError extends AppError {
  constructor(detail = 'The requested resource does not exist') {
    super('not_found', detail);
  }
}

export class ConflictError extends AppError {
  constructor(detail: string) {
    super('conflict', detail);
  }
}

/** PostgreSQL or Redis is really unavailable; the client may retry. */
export class ServiceUnavailableError extends AppError {
  constructor(
    readonly dependency: 'postgres' | 'redis',
    detail?: string,
  ) {
    super('service_unavailable', detail ?? `Temporarily unavailable: ${dependency === 'redis' ? 'Redis' : 'PostgreSQL'} cannot be reached`, undefined, {
      'Retry-After': '1',
    });
  }
}

/** Too many requests from one client address; `Retry-After` (seconds) says when to come back. */
export class TooManyRequestsError extends AppError {
  constructor(retryAfterS: number) {
    const detail = `Request was throttled. Expected available in ${retryAfterS} seconds.`;
    super('rate_limited', detail, { detail }, { 'Retry-After': String(retryAfterS) });
  }
}

/** An error the protocol answers with a bare JSON string (Relay's own bodies for these cases). */
export class RelayStringError extends AppError {
  constructor(code: 'relay_unauthorized' | 'unsupported_version', text: string) {
    super(code, text, text);
  }
}

/** A registration step refused with Sentry's `{"detail": …}` body and the status Sentry uses. */
export class RelayRegistrationError extends AppError {
  constructor(code: 'relay_registration_invalid' | 'relay_challenge_expired' | 'relay_registration_refused', text: string, extra: Record<string, unknown> = {}) {
    super(code, text, { detail: text, ...extra });
  }
}

/** The response to an error nobody anticipated: no details leave the process. */
export const INTERNAL_ERROR = new AppError('internal_error', 'Internal server error');
