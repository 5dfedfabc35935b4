import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Rust's flate2 as a gzip decoder for tests: the small program in `flate2-decode/`, built offline
 * against the crates Debian packages (`librust-flate2-dev`, which `.ci/run` installs). The build
 * output lives under the OS temp dir, not in the repo; cargo's own freshness check makes every
 * build after the first a no-op, so calling `buildFlate2Decoder()` in each test file is cheap.
 */

const PROJECT_DIR = join(__dirname, 'flate2-decode');
const DEBIAN_REGISTRY = '/usr/share/cargo/registry';
const TARGET_DIR = join(tmpdir(), 'relay-config-server-flate2-decode');

/** `cargo` on the PATH, else rustup's default place. */
function findCargo(): string {
  for (const candidate of ['cargo', join(homedir(), '.cargo', 'bin', 'cargo')]) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('cargo not found (on the PATH or in ~/.cargo/bin): the flate2 gzip test needs a Rust toolchain');
}

/** Builds the decoder if needed (offline, release) and returns the binary's path. */
export function buildFlate2Decoder(): string {
  const cargo = findCargo();
  const hasFlate2 = existsSync(DEBIAN_REGISTRY) && readdirSync(DEBIAN_REGISTRY).some((name) => name.startsWith('flate2-'));
  if (!hasFlate2) throw new Error(`no flate2 crate in ${DEBIAN_REGISTRY}: run apt-get install librust-flate2-dev (.ci/run does)`);
  // cwd: cargo reads the source replacement from flate2-decode/.cargo/config.toml.
  execFileSync(cargo, ['build', '--offline', '--release', '--quiet'], { cwd: PROJECT_DIR, env: { ...process.env, CARGO_TARGET_DIR: TARGET_DIR }, stdio: ['ignore', 'ignore', 'pipe'] });
  return join(TARGET_DIR, 'release', 'flate2-decode');
}

/** How the decoder reads: one gzip member (`GzDecoder`, nothing may follow it) or every member (`MultiGzDecoder`). */
export type Flate2Mode = 'gz' | 'multi';

/**
 * The plain bytes flate2 decodes from `gzip`; throws (with flate2's message) when it refuses them.
 * `chunk` hands the decoder at most that many bytes per read, as a body arriving over a socket.
 */
export function flate2Decode(binary: string, gzip: Buffer, mode: Flate2Mode = 'gz', chunk?: number): Buffer {
  const args = chunk === undefined ? [mode] : [mode, String(chunk)];
  try {
    return execFileSync(binary, args, { input: gzip, maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8').trim();
    throw new Error(stderr || (error as Error).message, { cause: error });
  }
}
