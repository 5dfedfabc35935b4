// proxy-addr (how Express computes `req.ip` under `trust proxy`) ships no types.
declare module 'proxy-addr' {
  import type { IncomingMessage } from 'node:http';

  /** The client address of `req`: the last address the `trust` function does not trust. */
  function proxyaddr(req: IncomingMessage, trust: (address: string, hop: number) => boolean): string;
  export = proxyaddr;
}
