import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { validateOption, type OptionScope } from '../options/registry';
import { generateRelayKeyPair } from '../relay-auth/keys';
import { newDsnKey } from './dsn-key';
import {
  Organization,
  OrganizationOption,
  Project,
  ProjectKey,
  ProjectOption,
  ProjectTemplate,
  ProjectTemplateOption,
  Team,
} from './entities';

/**
 * Demo and benchmark data: organizations with teams, projects and keys, and options that feed
 * every field of a config (trusted relays, PII rules, scrubbing, filters, quotas, retention,
 * features, a project template).
 */

export interface SeedRequest {
  orgs: number;
  projects: number;
  keys: number;
  /** Prefix of generated slugs; a random one keeps repeated seeds apart. */
  slugPrefix?: string;
  /** Plain projects with no options: faster, for large benchmark fills. */
  bare?: boolean;
}

export interface SeedResult {
  organizations: {
    id: number;
    slug: string;
    projects: { id: number; slug: string; publicKeys: string[] }[];
  }[];
  publicKeys: string[];
}

function option(scope: OptionScope, key: string, value: unknown): unknown {
  return validateOption(scope, key, value);
}

const ORG_PII = JSON.stringify({
  rules: {
    creditcards: { type: 'creditcard', redaction: { method: 'mask' } },
    internalTokens: { type: 'pattern', pattern: 'itok[0-9a-f]{16}', redaction: { method: 'replace', text: '[token]' } },
    secrets: { type: 'multiple', rules: ['internalTokens', '@password:remove'], hideInner: true },
  },
  applications: { '$string': ['creditcards', 'secrets'], '$http.headers': ['@anything:remove'] },
});

const PROJECT_PII = JSON.stringify({
  rules: { userIds: { type: 'pattern', pattern: 'uid[0-9]+', redaction: { method: 'hash' } } },
  applications: { '$user.id': ['userIds'], '$string': ['@email:mask'] },
});

/** Creates the data in chunks of one organization per flush; returns what it created. */
export async function seed(em: EntityManager, request: SeedRequest): Promise<SeedResult> {
  const prefix = request.slugPrefix ?? `demo-${randomBytes(3).toString('hex')}`;
  const result: SeedResult = { organizations: [], publicKeys: [] };
  for (let o = 0; o < request.orgs; o++) {
    const fork = em.fork();
    const org = fork.create(Organization, { slug: `${prefix}-org-${o + 1}`, name: `${prefix} organization ${o + 1}` });
    const team = fork.create(Team, { organization: org, slug: 'backend', name: 'Backend' });
    let template: ProjectTemplate | null = null;
    if (!request.bare) {
      const orgOptions: Record<string, unknown> = {
        'sentry:trusted-relays': [1, 2].map((n) => ({
          publicKey: generateRelayKeyPair().public,
          name: `edge relay ${n}`,
          description: 'customer data center',
          created: new Date().toISOString(),
          lastModified: new Date().toISOString(),
        })),
        'sentry:relay_pii_config': ORG_PII,
        'sentry:sensitive_fields': ['ssn', 'iban'],
        'sentry:safe_fields': ['orderId'],
        'sentry:require_scrub_ip_address': true,
        'sentry:event_retention': 90,
        'sentry:feature_overrides': { 'organizations:standalone-span-ingestion': true },
      };
      for (const [key, value] of Object.entries(orgOptions)) {
        fork.create(OrganizationOption, { organization: org, key, value: option('organization', key, value) });
      }
      template = fork.create(ProjectTemplate, { organization: org, name: 'web defaults' });
      const templateOptions: Record<string, unknown> = {
        'filters:browser-extensions': '1',
        'filters:legacy-browsers': ['ie_pre_9', 'ie9'],
        'sentry:scrub_defaults': true,
      };
      for (const [key, value] of Object.entries(templateOptions)) {
        fork.create(ProjectTemplateOption, { template, key, value: option('project', key, value) });
      }
    }
    const orgResult: SeedResult['organizations'][number] = { id: 0, slug: org.slug, projects: [] };
    const created: { project: Project; keys: ProjectKey[] }[] = [];
    for (let p = 0; p < request.projects; p++) {
      const project = fork.create(Project, {
        organization: org,
        team,
        template: !request.bare && p % 2 === 0 ? template : null,
        slug: `project-${p + 1}`,
        name: `Project ${p + 1}`,
        platform: 'javascript',
      });
      if (!request.bare) {
        const projectOptions: Record<string, unknown> = {
          'sentry:origins': [`https://app${p + 1}.example.com/`, 'HTTPS://Static.Example.com', ''],
          'sentry:relay_pii_config': PROJECT_PII,
          'sentry:sensitive_fields': ['password2'],
          'sentry:safe_fields': ['traceId'],
          'sentry:scrub_data': true,
          'filters:localhost': '1',
          'filters:web-crawlers': '1',
          'filters:filtered-transaction': '1',
          'sentry:error_messages': ['*ResizeObserver loop*'],
          'sentry:releases': ['*-beta'],
          'sentry:blacklisted_ips': ['10.13.0.0/16', '192.0.2.1'],
          'sentry:csp_ignored_sources': ['https://ads.example.net'],
          'sentry:feature_overrides': { 'organizations:session-replay': false },
        };
        for (const [key, value] of Object.entries(projectOptions)) {
          fork.create(ProjectOption, { project, key, value: option('project', key, value) });
        }
      }
      const keys: ProjectKey[] = [];
      for (let k = 0; k < request.keys; k++) {
        const limited = !request.bare && k === 0;
        keys.push(
          fork.create(ProjectKey, {
            project,
            publicKey: newDsnKey(),
            secretKey: newDsnKey(),
            label: k === 0 ? 'Default' : `Key ${k + 1}`,
            rateLimitCount: limited ? 1000 : null,
            rateLimitWindow: limited ? 60 : null,
          }),
        );
      }
      created.push({ project, keys });
    }
    await fork.flush();
    orgResult.id = org.id;
    for (const { project, keys } of created) {
      const publicKeys = keys.map((k) => k.publicKey);
      orgResult.projects.push({ id: project.id, slug: project.slug, publicKeys });
      result.publicKeys.push(...publicKeys);
    }
    result.organizations.push(orgResult);
  }
  return result;
}
