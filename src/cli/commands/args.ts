import { CliError } from '../cli-error';
import type { CommandContext } from './command';

/** A required string option, or a CliError naming it. */
export function requireString(ctx: CommandContext, name: string): string {
  const value = ctx.values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new CliError(`--${name} is required`);
  return value.trim();
}

/** A whole-number option in a range, or its fallback when absent. */
export function integerOption(ctx: CommandContext, name: string, fallback: number, min: number, max: number): number {
  const value = ctx.values[name];
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
