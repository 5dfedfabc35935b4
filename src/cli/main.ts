import { parseArgs } from 'node:util';
import { loadSettings, SettingsError, type Settings } from '../config/settings';
import { createContainer, type Container } from '../container';
import { AppError } from '../errors';
import { OptionValidationError } from '../options/registry';
import { CliError } from './cli-error';
import { commands, type Command } from './commands';

/**
 * `npm run -s cli -- <command> …`: results on stdout (JSON or plain lines), errors on stderr
 * with exit code 1 (ADMIN_API.md, "CLI").
 */

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(24)} ${c.summary}`);
  return `Usage: npm run -s cli -- <command> [options]\n\nCommands:\n${lines.join('\n')}\n`;
}

/** Finds the command named by the first one or two words. */
function findCommand(argv: string[]): { name: string; command: Command } | null {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = commands[name];
    if (command) return { name, command };
  }
  return null;
}

/**
 * A Relay public key is 43 characters of unpadded base64url, so one in 64 begins with `-`, and
 * `parseArgs` would read it as a cluster of short options (`-CEm…`) — even as the value of
 * `--name`. Such arguments are swapped for placeholders before parsing and put back afterwards.
 */
const DASHED_RELAY_KEY = /^-[A-Za-z0-9_-]{42}$/;

function parseCommandArgs(args: string[], options: NonNullable<Command['options']>) {
  const held = new Map<string, string>();
  const swapped = args.map((arg) => {
    if (!DASHED_RELAY_KEY.test(arg)) return arg;
    const placeholder = `\u0000relay-key-${held.size}`;
    held.set(placeholder, arg);
    return placeholder;
  });
  const restore = (value: unknown) => (typeof value === 'string' ? (held.get(value) ?? value) : value);
  const parsed = parseArgs({ args: swapped, options, allowPositionals: true, strict: true });
  const values = Object.fromEntries(Object.entries(parsed.values).map(([k, v]) => [k, Array.isArray(v) ? v.map(restore) : restore(v)]));
  return { values: values as Record<string, string | boolean | undefined>, positionals: parsed.positionals.map((p) => restore(p) as string) };
}

export async function main(argv: string[]): Promise<number> {
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  const found = findCommand(argv);
  if (!found) {
    process[wantsHelp || argv.length === 0 ? 'stdout' : 'stderr'].write(argv.length > 0 && !wantsHelp ? `error: unknown command "${argv.join(' ')}"\n${usage()}` : usage());
    return wantsHelp ? 0 : 1;
  }
  const { name, command } = found;
  if (wantsHelp) {
    process.stdout.write(`${name}: ${command.summary}\n${command.usage ?? ''}\n`);
    return 0;
  }
  let container: Container | undefined;
  let settings: Settings | undefined;
  try {
    const parsed = parseCommandArgs(argv.slice(name.split(' ').length), command.options ?? {});
    settings = loadSettings();
    const loaded = settings;
    await command.run({
      values: parsed.values,
      positionals: parsed.positionals,
      settings: loaded,
      container: async () => (container ??= await createContainer(loaded, 'cli')),
      out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    });
    return 0;
  } catch (error) {
    const err = error as Error & { code?: string };
    const isArgError = typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`error: ${err.message}\n`);
    if (isArgError && command.usage) process.stderr.write(`usage: ${command.usage}\n`);
    // A service's 4xx (a name that does not exist, a bad value) is the user's mistake, like a CliError.
    const expected = isArgError || err instanceof CliError || err instanceof SettingsError || err instanceof OptionValidationError || (err instanceof AppError && err.status < 500);
    if (!expected && settings && ['debug', 'trace'].includes(settings.logLevel)) process.stderr.write(`${err.stack}\n`);
    return 1;
  } finally {
    await container?.close();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
