import { chaosSeed, runChaos } from './chaos';

/**
 * `npm run soak -- --minutes N [--seed S]`: the chaos run for N minutes (default 10). Prints the
 * counts and the drift; exits non-zero on any violation. `CHAOS_SEED` is accepted like `--seed`.
 */

function arg(name: string): string | undefined {
  const inline = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (inline) return inline.slice(name.length + 3);
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<number> {
  const minutes = Number(arg('minutes') ?? '10');
  if (!Number.isFinite(minutes) || minutes <= 0) {
    process.stderr.write(`--minutes must be a positive number, not "${arg('minutes')}"\n`);
    return 2;
  }
  const seed = chaosSeed(arg('seed') ?? process.env.CHAOS_SEED);
  const report = await runChaos({ seed, durationMs: minutes * 60_000, log: (m) => process.stdout.write(`[soak] ${m}\n`) });
  return report.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[soak] failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
