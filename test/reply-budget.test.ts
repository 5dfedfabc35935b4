import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { sendJson } from '../src/http/routes/project-configs';
import type { ConfigReply } from '../src/services/project-configs';
import { createReplyBudget } from '../src/services/reply-budget';

const settled = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 5));
  return done;
};

describe('reply budget', () => {
  it('lets replies through while they fit, holds the next one until bytes are released, first come first served', async () => {
    const budget = createReplyBudget(100, 10_000);
    const a = await budget.acquire(60);
    const b = await budget.acquire(40);
    expect(budget.held).toBe(100);
    const c = budget.acquire(30);
    const d = budget.acquire(1); // fits by size, but waits behind c
    expect(await settled(c)).toBe(false);
    expect(await settled(d)).toBe(false);
    b.release();
    b.release(); // idempotent
    expect(await settled(c)).toBe(true);
    expect(await settled(d)).toBe(true);
    expect(budget.held).toBe(91);
    a.release();
    (await c).release();
    (await d).release();
    expect(budget.held).toBe(0);
  });

  it('always lets one reply through, however large, and a shrunk lease frees room at once', async () => {
    const budget = createReplyBudget(100, 10_000);
    const huge = await budget.acquire(1_000);
    const next = budget.acquire(10);
    expect(await settled(next)).toBe(false);
    huge.resize(50);
    expect(await settled(next)).toBe(true);
    expect(budget.held).toBe(60);
  });

  it('never delays a reply longer than the maximum wait: it then gets a lease of nothing, and the budget stays bounded', async () => {
    const budget = createReplyBudget(100, 30);
    const first = await budget.acquire(100);
    const started = Date.now();
    const late = await budget.acquire(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(first.granted).toBe(true);
    expect(late.granted).toBe(false);
    late.resize(80); // a lease of nothing holds nothing, whatever it is told
    expect(budget.held).toBe(100);
    late.release();
    first.release();
    expect(budget.held).toBe(0);
  });

  it('a request that gave up waiting lets the one behind it through once that one fits', async () => {
    const budget = createReplyBudget(100, 40);
    const holder = await budget.acquire(70);
    const big = budget.acquire(60); // waits, then gives up
    await new Promise((r) => setTimeout(r, 10));
    const small = budget.acquire(20); // fits by size, but queued behind big
    expect(await settled(small)).toBe(false);
    expect((await big).granted).toBe(false);
    expect(await settled(small)).toBe(true);
    expect((await small).granted).toBe(true);
    expect(budget.held).toBe(90);
    holder.release();
  });
});

describe('a reply whose client stopped reading', () => {
  it('is cut after the write timeout, which gives its bytes back to the budget; a client that reads gets every byte', async () => {
    const megabyte = Buffer.alloc(1024 * 1024, 0x20);
    // 64 MiB: far more than loopback's socket buffers hold, so an unread reply cannot finish.
    const reply = (released: () => void): ConfigReply => ({ chunks: Array.from({ length: 64 }, () => megabyte), length: 64 * megabyte.length, gzip: false, release: released });
    let releases = 0;
    const app = express();
    app.get('/', (req, res) => sendJson(res, reply(() => (releases += 1)), Number(req.query.timeout)));
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    try {
      // A client that sends its request and never reads.
      const stuck = connect(port, '127.0.0.1');
      stuck.pause();
      stuck.write('GET /?timeout=300 HTTP/1.1\r\nHost: x\r\n\r\n');
      const closed = new Promise<number>((resolve) => {
        const started = Date.now();
        stuck.once('close', () => resolve(Date.now() - started));
      });
      stuck.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 100));
      expect(releases).toBe(0); // still being written
      await new Promise((r) => setTimeout(r, 400));
      expect(releases).toBe(1);
      stuck.resume(); // the socket was destroyed by the server: the client sees it end
      expect(await closed).toBeLessThan(5000);

      // A client that reads gets the whole reply (well within the timeout), and it is released once.
      const body = await fetch(`http://127.0.0.1:${port}/?timeout=20000`).then((r) => r.arrayBuffer());
      expect(body.byteLength).toBe(64 * megabyte.length);
      await new Promise((r) => setTimeout(r, 50));
      expect(releases).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('gives the bytes back of a reply whose client left while it was being made (its close came before the reply)', async () => {
    let releases = 0;
    let requestArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (requestArrived = resolve));
    let replyReady!: () => void;
    const ready = new Promise<void>((resolve) => (replyReady = resolve));
    let answered!: () => void;
    const done = new Promise<void>((resolve) => (answered = resolve));
    const app = express();
    app.get('/', async (_req, res) => {
      requestArrived();
      await ready; // the reply is being made (Redis read) while the client goes away
      sendJson(res, { chunks: [Buffer.from('{}')], length: 2, gzip: false, release: () => (releases += 1) });
      answered();
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    try {
      const client = connect(port, '127.0.0.1');
      client.on('error', () => undefined);
      client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await arrived;
      client.destroy();
      await new Promise((r) => setTimeout(r, 100)); // the server sees the socket close
      replyReady();
      await done;
      await new Promise((r) => setTimeout(r, 50));
      expect(releases).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
