import type { Job } from 'bullmq';
import type { EntityManager } from '@mikro-orm/postgresql';
import { recordAudit } from '../services/audit';
import { Organization, OrganizationMember, type User } from '../db/entities';
import type { EmailVerificationJobData } from '../queues/email-verification.queue';
import type { JobDeps } from './deps';

/** Who the audit log names for removals this job makes (no user acted). */
export const EMAIL_VERIFICATION_ACTOR = 'email-verification';

export interface RemovedMember {
  memberId: number;
  userId: number;
  email: string;
}

/**
 * Removes the members of an organization whose e-mail address is not verified, one `member.remove`
 * audit entry each, in one transaction. Does nothing when the organization no longer requires
 * verification (the setting may have been turned off again before the job ran); running it twice
 * removes nothing more, so BullMQ's at-least-once delivery is harmless.
 */
export async function removeUnverifiedMembers(em: EntityManager, organizationId: number): Promise<RemovedMember[]> {
  return em.transactional(async (tem) => {
    const organization = await tem.findOne(Organization, { id: organizationId, status: 'active', requireEmailVerification: true });
    if (!organization) return [];
    const members = await tem.find(OrganizationMember, { organization, user: { emailVerified: false } }, { populate: ['user'], orderBy: { id: 'asc' } });
    return members.map((member) => {
      const user = member.user as User;
      recordAudit(tem, {
        organization,
        event: 'member.remove',
        actor: { user: null, label: EMAIL_VERIFICATION_ACTOR },
        targetObject: member.id,
        data: { email: user.email, userId: user.id, role: member.role, reason: 'email not verified' },
      });
      tem.remove(member);
      return { memberId: member.id, userId: user.id, email: user.email };
    });
  });
}

export function createRemoveUnverifiedMembersProcessor(deps: Pick<JobDeps, 'orm' | 'logger'>) {
  return async (job: Job<EmailVerificationJobData>): Promise<void> => {
    const removed = await removeUnverifiedMembers(deps.orm.em.fork(), job.data.organizationId);
    deps.logger.info({ jobId: job.id, organizationId: job.data.organizationId, removed: removed.length }, 'removed members without a verified e-mail');
  };
}
