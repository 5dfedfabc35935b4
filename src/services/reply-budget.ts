/**
 * A per-process budget for the config bytes that v3 replies hold between reading them from Redis
 * and handing them to the socket. A burst of large replies (50 Relays polling the same 500 freshly
 * built configs: 5 MiB each) would otherwise read them all at once — peak memory grows with the
 * burst, and every read waits behind the others on the one Redis connection. With the budget, a
 * request whose bytes do not fit waits (first come, first served) until earlier replies are
 * written, but never longer than `maxWaitMs`: then it gets a lease of nothing (`granted` false),
 * and the service answers its cached keys as `pending` without reading them — Relay asks for
 * pending keys again, so the budget delays a config, never fails it, and the process's memory
 * stays bounded however slowly the clients read. One request is always let through, whatever its
 * size.
 */
export interface ReplyBudget {
  /** Waits until `bytes` fit and holds them until the lease is released; after `maxWaitMs`, a lease of nothing. */
  acquire(bytes: number): Promise<ReplyLease>;
  /** Bytes held right now. */
  readonly held: number;
}

export interface ReplyLease {
  /** False when the bytes did not fit within `maxWaitMs`: the lease holds nothing. */
  readonly granted: boolean;
  /** Corrects the held amount once the real size is known. */
  resize: (bytes: number) => void;
  /** Gives the bytes back (idempotent; may be passed around on its own). */
  release: () => void;
}

export function createReplyBudget(limitBytes: number, maxWaitMs: number): ReplyBudget {
  let held = 0;
  const waiting: { bytes: number; grant: () => void }[] = [];
  const fits = (bytes: number) => held === 0 || held + bytes <= limitBytes;
  const grantWaiting = () => {
    while (waiting.length > 0 && fits(waiting[0].bytes)) waiting.shift()!.grant();
  };

  const lease = (initial: number, granted = true): ReplyLease => {
    let bytes = initial;
    let released = false;
    return {
      granted,
      resize: (next) => {
        if (released || !granted) return;
        held += next - bytes;
        bytes = next;
        grantWaiting();
      },
      release: () => {
        if (released) return;
        released = true;
        held -= bytes;
        grantWaiting();
      },
    };
  };

  return {
    get held() {
      return held;
    },
    async acquire(bytes) {
      if (waiting.length === 0 && fits(bytes)) {
        held += bytes;
        return lease(bytes);
      }
      const granted = await new Promise<boolean>((resolve) => {
        const entry = {
          bytes,
          grant: () => {
            clearTimeout(timer);
            held += bytes;
            resolve(true);
          },
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          resolve(false);
          // The head of the queue may fit now that it is someone else.
          grantWaiting();
        }, maxWaitMs);
        waiting.push(entry);
      });
      return granted ? lease(bytes) : lease(0, false);
    },
  };
}
