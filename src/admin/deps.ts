import type { RequestHandler } from 'express';
import type { Container } from '../container';

/** What every group of management routes receives. */
export interface AdminDeps {
  container: Container;
  /** The request's unit of work, token authentication and the JSON body: put before every API handler. */
  authed: RequestHandler[];
}
