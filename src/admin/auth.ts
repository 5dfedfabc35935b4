import { createHash, randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiToken, type MemberRole, type User } from '../db/entities';
import { ForbiddenError, UnauthorizedError } from '../errors';
import type { AuditActor } from '../services/audit';

/**
 * API tokens and scopes (ADMIN_API.md, "Authentication and permissions"). A token is `sntryu_`
 * and 64 lower-case hex characters, the form Sentry's own tools recognise; only its SHA-256 is
 * stored, so a leaked database does not leak usable tokens.
 */

export const SCOPES = ['org:read', 'org:write', 'org:admin', 'project:read', 'project:write', 'project:admin'] as const;
export type Scope = (typeof SCOPES)[number];

const TOKEN_RE = /^sntryu_[0-9a-f]{64}$/;

/** The user and scopes behind an authenticated request. */
export interface ApiAuth {
  user: User;
  scopes: ReadonlySet<Scope>;
  tokenId: number;
  /** Set once capped to the user's role in one organization (`withinRole`). */
  role?: MemberRole;
  /** The token's own scopes, before the role capped them. */
  tokenScopes?: ReadonlySet<Scope>;
}

declare module 'express-serve-static-core' {
  interface Request {
    apiAuth?: ApiAuth;
    /** The request's unit of work (MikroORM: one fork per request). */
    adminEm?: EntityManager;
  }
}

/** A new token; show it once, store only `hashApiToken(token)`. */
export function generateApiToken(): string {
  return `sntryu_${randomBytes(32).toString('hex')}`;
}

/** The stored form of a token: SHA-256, lower-case hex. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function isApiTokenFormat(text: string): boolean {
  return TOKEN_RE.test(text);
}

export function isScope(text: string): text is Scope {
  return (SCOPES as readonly string[]).includes(text);
}

/**
 * As in Sentry's scope maps, a stronger scope of the same kind satisfies a weaker one
 * (`org:admin` may read and write the organization).
 */
const SATISFIED_BY: Record<Scope, Scope[]> = {
  'org:read': ['org:read', 'org:write', 'org:admin'],
  'org:write': ['org:write', 'org:admin'],
  'org:admin': ['org:admin'],
  'project:read': ['project:read', 'project:write', 'project:admin'],
  'project:write': ['project:write', 'project:admin'],
  'project:admin': ['project:admin'],
};

/** Whether the token may act with `needed`. */
export function hasScope(auth: ApiAuth, needed: Scope): boolean {
  return SATISFIED_BY[needed].some((s) => auth.scopes.has(s));
}

/**
 * The scopes each organization role grants: Sentry's roles (`SENTRY_ROLES` in its
 * `conf/server.py`) restricted to the scopes this API knows. Ordered weakest first.
 */
export const ROLE_SCOPES: Record<MemberRole, readonly Scope[]> = {
  member: ['org:read', 'project:read'],
  admin: ['org:read', 'project:read', 'project:write', 'project:admin'],
  manager: ['org:read', 'org:write', 'project:read', 'project:write', 'project:admin'],
  owner: SCOPES,
};

/**
 * The authentication as it may act in an organization where its user holds `role`: the scopes
 * the token holds (counting those its stronger scopes include) that the role also grants. A
 * `member`'s `org:admin` token can read the organization, never delete it.
 */
export function withinRole(auth: ApiAuth, role: MemberRole): ApiAuth {
  return { ...auth, scopes: new Set(ROLE_SCOPES[role].filter((s) => hasScope(auth, s))), role, tokenScopes: auth.scopes };
}

/** Throws 403 unless the token holds one of `anyOf` (or a stronger scope of the same kind). Superusers too. */
export function requireScope(auth: ApiAuth, ...anyOf: Scope[]): void {
  if (anyOf.some((s) => hasScope(auth, s))) return;
  const needed = `${anyOf.map((s) => `"${s}"`).join(' or ')} scope`;
  const tokenScopes = auth.tokenScopes;
  const cappedByRole = auth.role !== undefined && tokenScopes !== undefined && anyOf.some((s) => SATISFIED_BY[s].some((t) => tokenScopes.has(t)));
  throw new ForbiddenError(
    cappedByRole
      ? `You do not have permission to perform this action. This needs the ${needed}, which your "${auth.role}" role in this organization does not grant.`
      : `You do not have permission to perform this action. This needs the ${needed}.`,
  );
}

const challenge = { 'WWW-Authenticate': 'Bearer realm="api"' };

/** Finds the active user of a bearer token; 401 when the header is missing or the token is unknown. */
export async function authenticateToken(em: EntityManager, header: string | undefined): Promise<ApiAuth> {
  if (!header || header.trim() === '') throw new UnauthorizedError('Authentication credentials were not provided.', challenge);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new UnauthorizedError('Invalid authorization header: use "Bearer <token>".', challenge);
  const token = match[1];
  if (!isApiTokenFormat(token)) throw new UnauthorizedError('Invalid token', challenge);
  const row = await em.findOne(ApiToken, { hashedToken: hashApiToken(token) }, { populate: ['user'] });
  const user = row?.user;
  if (!row || !user || !user.isActive) throw new UnauthorizedError('Invalid token', challenge);
  return { user, scopes: new Set(row.scopes.filter(isScope)), tokenId: row.id };
}

/** Express middleware: opens the request's unit of work (`req.adminEm`). */
export function requestEntityManager(fork: () => EntityManager) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    req.adminEm = fork();
    next();
  };
}

/** Express middleware: authenticates the bearer token and attaches `req.apiAuth`. */
export async function apiAuth(req: Request, _res: Response, next: NextFunction): Promise<void> {
  req.apiAuth = await authenticateToken(emOf(req), req.get('authorization'));
  next();
}

/** The unit of work of a request behind `requestEntityManager`. */
export function emOf(req: Request): EntityManager {
  if (!req.adminEm) throw new Error('requestEntityManager middleware is missing');
  return req.adminEm;
}

/** The authentication of a request behind `apiAuth`. */
export function authOf(req: Request): ApiAuth {
  if (!req.apiAuth) throw new UnauthorizedError();
  return req.apiAuth;
}

/** The user behind a request and the address it came from, as the audit log names them. */
export function requestActor(req: Request): AuditActor {
  return { user: authOf(req).user, ipAddress: req.ip ?? null };
}
