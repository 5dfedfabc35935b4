import type { TestProject } from 'vitest/node';
import { createTemplateDatabase, dropRunDatabases } from './db';

/** Migrates one template database per run; every test file clones it (see `db.ts`). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  await createTemplateDatabase(runId);
  project.provide('testRunId', runId);
  return async () => {
    await dropRunDatabases(runId);
  };
}
