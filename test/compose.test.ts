import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { RequestListener } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { commands } from '../src/cli/commands';
import { SETTING_NAMES } from '../src/config/settings';
import { LAUNCH_ENV } from '../src/launch-env';
import type { Container } from '../src/container';
import { createApp } from '../src/http/app';
import { closeServer, listen } from '../src/http/server';
import { workerHttpApp } from '../src/runtime';
import { testContainer } from './support/harness';
import { ROOT } from './support/processes';

/**
 * docker-compose.yml stays correct by reading it (Docker does not run in the tests): every
 * profile's services, checked against the code. Our containers set only known settings, run
 * entry points and CLI commands that exist with options they accept, probe routes that answer,
 * and every file mounted from the repo is there — and where those files name each other
 * (Prometheus's rule files, Grafana's dashboards, the Relay's upstream) they agree.
 */

interface Service {
  image?: string;
  build?: unknown;
  profiles?: string[];
  environment?: Record<string, unknown> | string[];
  command?: string | string[];
  entrypoint?: string | string[];
  healthcheck?: { test?: string | string[] };
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  depends_on?: string[] | Record<string, unknown>;
}

const compose = parseYaml(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = Object.entries(compose.services);
const OUR_IMAGE = 'relay-config-server:local';
const ours = services.filter(([, s]) => s.image === OUR_IMAGE || s.build !== undefined);
const readRepoYaml = (file: string) => parseYaml(readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, any>;

const environmentNames = (s: Service): string[] => (Array.isArray(s.environment) ? s.environment.map((e) => e.split('=')[0]) : Object.keys(s.environment ?? {}));
const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every `node dist/….js args` a service runs: in its command, or in the script a shell entrypoint runs. */
function nodeInvocations(s: Service): { script: string; args: string[] }[] {
  const text = [...asList(s.entrypoint), ...asList(s.command)].join('\n');
  const found: { script: string; args: string[] }[] = [];
  // An exec-form command is one word per array item; a shell script ends a command at a newline or ; & |.
  const exec = asList(s.command);
  if (exec[0] === 'node') return [{ script: exec[1], args: exec.slice(2) }];
  for (const match of text.matchAll(/\bnode\s+(dist\/\S+\.js)([^\n;&|]*)/g)) {
    const args = (match[2].match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((a) => a.replace(/^["']|["']$/g, ''));
    found.push({ script: match[1], args });
  }
  return found;
}

/** The target path of each bind mount from the repo, by service. */
function bindMounts(s: Service): { source: string; target: string }[] {
  return (s.volumes ?? []).flatMap((v) => {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      return source.startsWith('.') || source.startsWith('/') ? [{ source, target }] : [];
    }
    return v.type === 'bind' && v.source && v.target ? [{ source: v.source, target: v.target }] : [];
  });
}

describe('docker-compose.yml', () => {
  it('has the default stack and the cluster, relay and monitoring profiles', () => {
    const profiles = new Set(services.flatMap(([, s]) => s.profiles ?? []));
    expect([...profiles].sort()).toEqual(['cluster', 'monitoring', 'relay']);
    expect(ours.map(([name]) => name).sort()).toEqual(['api', 'migrate', 'relay-init', 'worker']);
    for (const name of ['kafka', 'relay', 'prometheus', 'grafana', 'redis-node-1', 'redis-cluster-init']) expect(compose.services[name], name).toBeDefined();
  });

  it('sets only settings src/config/settings.ts knows on our containers', () => {
    // Settings, and the allocator's launch environment (src/launch-env.ts, test/launch-env.test.ts).
    const launchNames = Object.values(LAUNCH_ENV).flatMap((env) => Object.keys(env));
    const unknown = ours.flatMap(([name, s]) => environmentNames(s).filter((key) => !SETTING_NAMES.includes(key) && !launchNames.includes(key)).map((key) => `${name}: ${key}`));
    expect(unknown).toEqual([]);
    // The check reads something: the shared app environment is on every one of them.
    for (const [, s] of ours) expect(environmentNames(s)).toContain('DATABASE_URL');
  });

  it('runs only entry points and CLI commands that exist, with options they accept', () => {
    const checked: string[] = [];
    for (const [name, s] of ours) {
      const invocations = nodeInvocations(s);
      expect(invocations.length, `${name} runs none of our scripts`).toBeGreaterThan(0);
      for (const { script, args } of invocations) {
        const source = script.replace(/^dist\//, '').replace(/\.js$/, '.ts');
        expect(existsSync(path.join(ROOT, source)), `${name}: ${script} is built from ${source}`).toBe(true);
        if (source !== 'src/cli/main.ts') continue;
        const words = [2, 1].map((n) => args.slice(0, n).join(' ')).find((w) => w in commands);
        expect(words, `${name}: CLI command in "${args.join(' ')}"`).toBeDefined();
        const command = commands[words!];
        expect(() => parseArgs({ args: args.slice(words!.split(' ').length), options: command.options ?? {}, allowPositionals: true, strict: true }), `${name}: ${args.join(' ')}`).not.toThrow();
        checked.push(words!);
      }
    }
    expect(checked.sort()).toEqual(['migrate', 'relays credentials', 'relays trust']);
  });

  it('mounts only files and directories that are in the repo, and named volumes it declares', () => {
    const missing: string[] = [];
    let binds = 0;
    for (const [name, s] of services) {
      for (const { source } of bindMounts(s)) {
        binds++;
        if (!source.startsWith('./') || !existsSync(path.join(ROOT, source))) missing.push(`${name}: ${source}`);
      }
      for (const v of s.volumes ?? []) {
        const named = typeof v === 'string' ? v.split(':')[0] : v.type === 'volume' ? v.source : undefined;
        if (named && !named.startsWith('.') && !named.startsWith('/') && !(named in (compose.volumes ?? {}))) missing.push(`${name}: volume ${named} is not declared`);
      }
    }
    expect(missing).toEqual([]);
    expect(binds).toBeGreaterThanOrEqual(5);
  });

  it('depends only on services it defines', () => {
    const unknown = services.flatMap(([name, s]) => (Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {})).filter((d) => !(d in compose.services)).map((d) => `${name} → ${d}`));
    expect(unknown).toEqual([]);
  });

  it('monitoring: Prometheus loads the mounted rules and scrapes the API and worker ports; Grafana finds its dashboard', () => {
    const prometheus = compose.services.prometheus;
    const mounts = bindMounts(prometheus);
    const configMount = mounts.find((m) => m.target === '/etc/prometheus/prometheus.yml');
    expect(configMount).toBeDefined();
    const config = readRepoYaml(configMount!.source);
    const rulesMounts = mounts.filter((m) => m.source.endsWith('alerts.yml'));
    expect(rulesMounts).toHaveLength(1);
    const globs = (config.rule_files as string[]).map((g) => new RegExp(`^${g.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`));
    expect(globs.some((g) => g.test(rulesMounts[0].target)), `rule_files ${JSON.stringify(config.rule_files)} load ${rulesMounts[0].target}`).toBe(true);

    const env = compose.services.api.environment as Record<string, string>;
    const jobs = Object.fromEntries((config.scrape_configs as { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[]).map((j) => [j.job_name, j.dns_sd_configs[0]]));
    expect(jobs.api).toMatchObject({ names: ['api'], port: Number(env.PORT) });
    expect(jobs.worker).toMatchObject({ names: ['worker'], port: Number(env.WORKER_PORT) });

    const grafana = compose.services.grafana;
    const gMounts = bindMounts(grafana);
    const provisioning = gMounts.find((m) => m.target === '/etc/grafana/provisioning')!;
    const datasource = readRepoYaml(path.join(provisioning.source, 'datasources/prometheus.yml'));
    expect(datasource.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', uid: 'prometheus' });
    const provider = readRepoYaml(path.join(provisioning.source, 'dashboards/relay-config-server.yml')).providers[0];
    const dashboards = gMounts.find((m) => m.target === provider.options.path);
    expect(dashboards, `a mount at the provider's path ${provider.options.path}`).toBeDefined();
    expect(statSync(path.join(ROOT, dashboards!.source, 'relay-config-server.json')).isFile()).toBe(true);
    const home = (grafana.environment as Record<string, string>).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(existsSync(path.join(ROOT, dashboards!.source, path.relative(dashboards!.target, home)))).toBe(true);
    // Every panel asks the provisioned datasource.
    const dashboard = JSON.parse(readFileSync(path.join(ROOT, dashboards!.source, 'relay-config-server.json'), 'utf8')) as { panels: { type: string; datasource?: { uid: string } }[] };
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) expect(panel.datasource?.uid).toBe('prometheus');
  });

  it('relay: the Relay reads the config and credentials relay-init writes, and points at the API, Redis and Kafka', () => {
    const relay = compose.services.relay;
    const init = compose.services['relay-init'];
    const volumeOf = (s: Service, target: string) => (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':') : [])).find(([, t]) => t === target)?.[0];
    // The Relay image's config directory is /work/.relay (WORKDIR /work, default --config .relay).
    const relayVolume = volumeOf(relay, '/work/.relay');
    expect(relayVolume).toBeDefined();
    const initScript = asList(init.command).join('\n');
    const initDir = (init.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':') : [])).find(([source]) => source === relayVolume)?.[1];
    expect(initDir).toBeDefined();
    expect(initScript).toContain(`--out ${initDir}/credentials.json`);
    const configMount = bindMounts(init).find((m) => m.source.endsWith('config.yml'))!;
    expect(initScript).toContain(`cp ${configMount.target} ${initDir}/config.yml`);
    // Idempotent: an existing credentials file is kept (the CLI refuses to overwrite it anyway).
    expect(initScript).toMatch(new RegExp(`if \\[ -f ${initDir}/credentials.json \\]`));

    const config = readRepoYaml(configMount.source);
    const env = compose.services.api.environment as Record<string, string>;
    expect(config.relay).toMatchObject({ mode: 'managed', upstream: `http://api:${env.PORT}/` });
    expect(config.processing.enabled).toBe(true);
    const redisHost = new URL(config.processing.redis as string).hostname;
    expect(compose.services[redisHost]).toBeDefined();
    const bootstrap = (config.processing.kafka_config as { name: string; value: string }[]).find((p) => p.name === 'bootstrap.servers')!.value;
    expect(compose.services[bootstrap.split(':')[0]]?.profiles).toEqual(['relay']);
    expect(config.processing.projectconfig_cache_prefix).toBe('relayconfig');
  });

  describe('healthchecks of our containers', () => {
    let container: Container;
    const servers: Awaited<ReturnType<typeof listen>>[] = [];
    const urls = new Map<number, string>();

    beforeAll(async () => {
      container = await testContainer();
      const env = compose.services.api.environment as Record<string, string>;
      const apps: [number, RequestListener][] = [
        [Number(env.PORT), createApp(container)],
        [Number(env.WORKER_PORT), workerHttpApp(container)],
      ];
      for (const [port, app] of apps) {
        const server = await listen(app, 0, '127.0.0.1');
        servers.push(server);
        urls.set(port, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
      }
    });
    afterAll(async () => {
      for (const server of servers) await closeServer(server, 1000);
      await container?.close();
    });

    it('probe paths that answer 2xx on the role they probe (/readyz on the API, /healthz on workers)', async () => {
      const probed: string[] = [];
      for (const [name, s] of ours) {
        const test = asList(s.healthcheck?.test).join(' ');
        for (const match of test.matchAll(/http:\/\/127\.0\.0\.1:(\d+)(\/[^'"\s)]*)/g)) {
          const base = urls.get(Number(match[1]));
          expect(base, `${name}: port ${match[1]} is the API's or a worker's`).toBeDefined();
          const res = await fetch(`${base}${match[2]}`);
          expect(res.status, `${name}: GET ${match[2]}`).toBe(200);
          probed.push(`${name} ${match[2]}`);
        }
      }
      expect(probed.sort()).toEqual(['api /readyz', 'worker /healthz']);
    });
  });
});
