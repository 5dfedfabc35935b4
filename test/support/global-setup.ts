import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { createTemplateDatabase, dropRunDatabases } from './db';

/**
 * Builds the compiled output once (tests that start the service as separate processes run it,
 * as users do) and migrates one template database per run; every test file clones it (`db.ts`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: path.resolve(__dirname, '../..'), stdio: 'inherit' });
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  await createTemplateDatabase(runId);
  project.provide('testRunId', runId);
  return async () => {
    await dropRunDatabases(runId);
  };
}
