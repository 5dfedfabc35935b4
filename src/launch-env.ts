/**
 * Environment the service's processes are started with: the Dockerfile, the `npm start` scripts
 * and the benchmark all set it (test/launch-env.test.ts checks they agree). glibc's allocator reads
 * it before any JavaScript runs, so the process cannot set it for itself.
 *
 * `MALLOC_MMAP_THRESHOLD_=65536`: every allocation of 64 KiB or more gets its own mapping, given
 * back to the system when freed. Node allocates a new 64 KiB buffer for each socket read, so an API
 * reads ~1 MiB of fresh buffers from Redis per plain 100-config reply; with glibc's default
 * (a threshold that rises to the largest block freed so far) those land in the main heap, which
 * only shrinks from its top and so stays at its high-water mark. Measured with `npm run bench --
 * --only hot`, one run each in the same minutes, 2 cores: the API's RSS after the hot path 203 MB
 * with the setting vs 229–231 MB without, peak 226 vs 255 MB, CPU per request unchanged
 * (0.80 vs 0.74 ms plain, 0.83 vs 0.86 ms realistic). Only glibc reads it; elsewhere it is inert.
 */
export const LAUNCH_ENV = { MALLOC_MMAP_THRESHOLD_: '65536' } as const;
