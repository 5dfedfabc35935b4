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

  it('never delays a reply longer than the maximum wait: it then goes ahead over the budget', async () => {
    const budget = createReplyBudget(100, 30);
    await budget.acquire(100);
    const started = Date.now();
    const late = await budget.acquire(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(budget.held).toBe(150);
    late.release();
    expect(budget.held).toBe(100);
  });
});
