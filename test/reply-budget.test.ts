import { describe, expect, it } from 'vitest';
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
