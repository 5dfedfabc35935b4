import type { EntityManager } from '@mikro-orm/postgresql';
import { generateApiToken, hashApiToken, isApiTokenFormat, isScope, SCOPES } from '../../admin/auth';
import { ApiToken, User, UserPermission } from '../../db/entities';
import { CliError } from '../cli-error';
import { requireString } from './args';
import type { Command } from './command';

/** Users, API tokens and user permissions: bootstrap without the HTTP API (ADMIN_API.md, "CLI"). */

const EMAIL_RE = /^[^@\s]+@[^@\s]+$/;

/** E-mail addresses are kept lower-cased so `--user` finds a user whatever the case typed. */
function emailOption(ctx: Parameters<Command['run']>[0], name: string): string {
  const email = requireString(ctx, name).toLowerCase();
  if (!EMAIL_RE.test(email) || email.length > 200) throw new CliError(`--${name} must be an e-mail address`);
  return email;
}

async function findUser(em: EntityManager, email: string): Promise<User> {
  const user = await em.findOne(User, { email });
  if (!user) throw new CliError(`User \`${email}\` does not exist`);
  return user;
}

/** Like Sentry's `permissions` command: only superusers hold permissions. */
async function findSuperuser(em: EntityManager, email: string): Promise<User> {
  const user = await findUser(em, email);
  if (!user.isSuperuser) throw new CliError(`User \`${email}\` does not have superuser status`);
  return user;
}

/** `--user` (a superuser) and `--permission` of `permissions add|remove`. */
async function permissionRequest(ctx: Parameters<Command['run']>[0]): Promise<{ em: EntityManager; email: string; user: User; permission: string }> {
  const email = emailOption(ctx, 'user');
  const permission = requireString(ctx, 'permission');
  if (permission.length > 255) throw new CliError('--permission must be at most 255 characters');
  const em = (await ctx.container()).orm.em.fork();
  return { em, email, user: await findSuperuser(em, email), permission };
}

const userOption = { user: { type: 'string' } } as const;

export const userCommands: Record<string, Command> = {
  createuser: {
    summary: 'create a user (--superuser for an operator; --verified marks the e-mail address verified)',
    usage: 'createuser --email E [--name NAME] [--superuser] [--verified]',
    options: { email: { type: 'string' }, name: { type: 'string' }, superuser: { type: 'boolean' }, verified: { type: 'boolean' } },
    async run(ctx) {
      const email = emailOption(ctx, 'email');
      const name = typeof ctx.values.name === 'string' ? ctx.values.name.trim().slice(0, 200) : '';
      const em = (await ctx.container()).orm.em.fork();
      if (await em.findOne(User, { email })) throw new CliError(`User \`${email}\` already exists`);
      const user = em.create(User, { email, name, isSuperuser: ctx.values.superuser === true, emailVerified: ctx.values.verified === true });
      await em.flush();
      ctx.out(`Created user \`${email}\` (id ${user.id}${user.isSuperuser ? ', superuser' : ''})`);
    },
  },
  'tokens create': {
    summary: 'create an API token for a user; prints only the token (shown once, only its hash is stored)',
    usage: `tokens create --user E --scopes ${SCOPES.join(',')}`,
    options: { ...userOption, scopes: { type: 'string' } },
    async run(ctx) {
      const email = emailOption(ctx, 'user');
      const scopes = [...new Set(requireString(ctx, 'scopes').split(',').map((s) => s.trim()).filter((s) => s !== ''))];
      const unknown = scopes.filter((s) => !isScope(s));
      if (scopes.length === 0 || unknown.length > 0) {
        throw new CliError(`${unknown.length > 0 ? `unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}; ` : ''}--scopes takes a comma-separated list of ${SCOPES.join(', ')}`);
      }
      const em = (await ctx.container()).orm.em.fork();
      const user = await findUser(em, email);
      if (!user.isActive) throw new CliError(`User \`${email}\` is not active`);
      const token = generateApiToken();
      em.create(ApiToken, { user, hashedToken: hashApiToken(token), tokenLastCharacters: token.slice(-4), scopes });
      await em.flush();
      ctx.out(token);
    },
  },
  'tokens revoke': {
    summary: 'revoke an API token',
    usage: 'tokens revoke TOKEN',
    async run(ctx) {
      const [token] = ctx.positionals;
      if (!token || !isApiTokenFormat(token)) throw new CliError('give the token to revoke: sntryu_ followed by 64 lower-case hex characters');
      const em = (await ctx.container()).orm.em.fork();
      const deleted = await em.nativeDelete(ApiToken, { hashedToken: hashApiToken(token) });
      if (deleted === 0) throw new CliError('No such token (already revoked?)');
      ctx.out(`Revoked token ending in ${token.slice(-4)}`);
    },
  },
  'permissions list': {
    summary: "list a superuser's permissions, one per line",
    usage: 'permissions list --user E',
    options: userOption,
    async run(ctx) {
      const email = emailOption(ctx, 'user');
      const em = (await ctx.container()).orm.em.fork();
      const user = await findSuperuser(em, email);
      const rows = await em.find(UserPermission, { user }, { orderBy: { permission: 'asc' } });
      for (const row of rows) ctx.out(row.permission);
    },
  },
  'permissions add': {
    summary: 'give a superuser a permission',
    usage: 'permissions add --user E --permission P',
    options: { ...userOption, permission: { type: 'string' } },
    async run(ctx) {
      const { em, email, user, permission } = await permissionRequest(ctx);
      if (await em.findOne(UserPermission, { user, permission })) throw new CliError(`User \`${email}\` already has permission \`${permission}\``);
      em.create(UserPermission, { user, permission });
      await em.flush();
      ctx.out(`Added permission \`${permission}\` to \`${email}\``);
    },
  },
  'permissions remove': {
    summary: 'take a permission from a superuser',
    usage: 'permissions remove --user E --permission P',
    options: { ...userOption, permission: { type: 'string' } },
    async run(ctx) {
      const { em, email, user, permission } = await permissionRequest(ctx);
      if ((await em.nativeDelete(UserPermission, { user, permission })) === 0) throw new CliError(`User \`${email}\` does not have permission \`${permission}\``);
      ctx.out(`Removed permission \`${permission}\` from \`${email}\``);
    },
  },
};
