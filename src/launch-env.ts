/**
 * Environment each role's processes are started with: the Dockerfile and docker-compose.yml, the
 * `npm start` scripts and the benchmark all set it (test/launch-env.test.ts checks they agree).
 * glibc's allocator reads it before any JavaScript runs, so a process cannot set it for itself.
 *
 * `MALLOC_MMAP_THRESHOLD_`: blocks of at least this size get a mapping of their own, given back to
 * the system when freed; smaller ones come from the main heap, which only shrinks from its top and
 * so stays near its high-water mark. glibc's default threshold rises to the largest block freed so
 * far, so every buffer lands in that heap sooner or later.
 * - The API reads each socket into a new 64 KiB buffer (trimmed to what arrived): ~1 MiB of fresh
 *   buffers from Redis per plain 100-config reply. At 16 KiB, `--quick --only hot`, alternating
 *   with 64 KiB: RSS during the hot path 174–185 vs 193–198 MB, peak 196–203 vs 212–227 MB, the
 *   same CPU per request; 64 KiB against glibc's default (`--only hot`): 203 vs 229–231 MB after
 *   the hot path.
 * - A worker's compressors allocate 16–64 KiB buffers on every call, which at 16 KiB would each be
 *   mapped and unmapped: the cold fill took 5.5–5.7 s at 0.57–0.60 ms of worker CPU per key
 *   against 4.6 s and 0.49 ms. Workers, and the single-process `all` role, take 64 KiB.
 * Only glibc reads it; elsewhere it is inert.
 */
export type LaunchRole = 'api' | 'worker' | 'all';

export const LAUNCH_ENV: Readonly<Record<LaunchRole, Readonly<Record<string, string>>>> = {
  api: { MALLOC_MMAP_THRESHOLD_: '16384' },
  worker: { MALLOC_MMAP_THRESHOLD_: '65536' },
  all: { MALLOC_MMAP_THRESHOLD_: '65536' },
};

/** The role a compiled entry point runs (`workers/<role>.js`), if it is one. */
export function launchRoleOf(script: string): LaunchRole | null {
  const match = /(?:^|\/)workers\/(api|worker|all)\.js$/.exec(script);
  return match ? (match[1] as LaunchRole) : null;
}
