import { AsyncLocalStorage } from 'node:async_hooks';

/** Counts the SQL statements issued inside `countQueries(fn)`, across every await in `fn`. */
const storage = new AsyncLocalStorage<{ count: number }>();

export async function countQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: number }> {
  const counter = { count: 0 };
  const result = await storage.run(counter, fn);
  return { result, queries: counter.count };
}

/** Called by the ORM logger for every statement it executes. */
export function recordQuery(): void {
  const counter = storage.getStore();
  if (counter) counter.count += 1;
}
