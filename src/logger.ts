import pino, { type Logger } from 'pino';
import type { Settings } from './config/settings';

export type { Logger } from 'pino';

/** JSON logs on stdout; `role` tells API, worker and CLI lines apart. */
export function createLogger(settings: Pick<Settings, 'logLevel'>, role: string): Logger {
  return pino({ level: settings.logLevel, base: { role, pid: process.pid } });
}
