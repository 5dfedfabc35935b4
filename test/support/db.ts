import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import pino from 'pino';
import { loadSettings } from '../../src/config/settings';
import { applyMigrations, initOrm } from '../../src/db/orm';

/**
 * Test databases on the real PostgreSQL: one migrated template per test run, cloned per test file
 * (`CREATE DATABASE … TEMPLATE`, a file copy), so tests never share rows and need no cleanup order.
 */

const baseUrl = () => loadSettings().databaseUrl;

function urlFor(database: string): string {
  const url = new URL(baseUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const templateName = (runId: string) => `rc_tpl_${runId}`;

export async function createTemplateDatabase(runId: string): Promise<void> {
  const name = templateName(runId);
  await admin(async (c) => {
    await c.query(`drop database if exists ${name}`);
    await c.query(`create database ${name}`);
  });
  const orm = await initOrm({ databaseUrl: urlFor(name) }, pino({ level: 'warn' }));
  try {
    await applyMigrations(orm);
  } finally {
    await orm.close(true);
  }
}

/** A fresh, migrated database for one test file; returns its URL. */
export async function createTestDatabase(runId: string): Promise<string> {
  const name = `rc_${runId}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database ${name} template ${templateName(runId)}`));
  return urlFor(name);
}

export async function dropRunDatabases(runId: string): Promise<void> {
  await admin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      `select datname from pg_database where datname = $1 or datname like $2`,
      [templateName(runId), `rc\\_${runId}\\_%`],
    );
    for (const { datname } of rows) await c.query(`drop database if exists ${datname} with (force)`);
  });
}
