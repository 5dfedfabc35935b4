import pino, { type Logger } from 'pino';
import type { Settings } from './config/settings';

export type { Logger } from 'pino';

/** JSON logs on stdout; `role` tells API, worker and CLI lines apart. */
export function createLogger(settings: Pick<Settings, 'logLevel'>, role: string): Logger {
  return pino({ level: settings.logLevel, base: { role, pid: process.pid } });
}

/**
 * A long text shortened for a log line, keeping its start and its end (an SQL statement can carry
 * a whole request body, and a database error's reason comes after the statement).
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.ceil(max * 0.6);
  return `${text.slice(0, head)} … (${text.length} characters) … ${text.slice(text.length - (max - head))}`;
}
