import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { Team, type Organization } from '../db/entities';
import { ConflictError } from '../errors';
import { recordAudit, type AuditActor } from './audit';
import type { Locate, ReadInput } from './locate';
import { conflictOnDuplicate, nameSchema, parseBody, slugOrDerived, slugSchema } from './validation';

/** Teams of an organization; projects are created under a team. */

const createSchema = z.strictObject({ name: nameSchema(64), slug: slugSchema.optional() });

export interface CreateTeam {
  actor: AuditActor;
  /** An organization that takes changes. */
  target: Locate<Organization>;
  /** `{name, slug?}`. */
  input: ReadInput;
}

/** Creates a team; 409 when the slug is taken in the organization. */
export async function createTeam(em: EntityManager, { actor, target, input }: CreateTeam): Promise<Team> {
  const duplicate = 'A team with this slug already exists.';
  return conflictOnDuplicate(
    () =>
      em.transactional(async (tem) => {
        const organization = await target(tem);
        const body = parseBody(createSchema, input());
        const slug = slugOrDerived(body.slug, body.name);
        if ((await tem.count(Team, { organization, slug })) > 0) throw new ConflictError(duplicate);
        const created = tem.create(Team, { organization, slug, name: body.name });
        await tem.flush();
        recordAudit(tem, { organization, event: 'team.add', actor, targetObject: created.id, data: { slug, name: body.name } });
        return created;
      }),
    duplicate,
  );
}
