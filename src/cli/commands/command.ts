import type { ParseArgsConfig } from 'node:util';
import type { Settings } from '../../config/settings';
import type { Container } from '../../container';

export interface CommandContext {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  settings: Settings;
  /** The process container, created on first use (commands that need no database skip it). */
  container(): Promise<Container>;
  /** Writes one result to stdout. */
  out(text: string): void;
}

export interface Command {
  summary: string;
  usage?: string;
  options?: ParseArgsConfig['options'];
  run(ctx: CommandContext): Promise<void>;
}
