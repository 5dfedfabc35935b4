import type { Job } from 'bullmq';
import type { EmailVerificationJobData } from '../queues/email-verification.queue';
import { removeUnverifiedMembers } from '../services/organizations';
import type { JobDeps } from './deps';

/** The clean-up an organization's `requireEmailVerification` schedules (services/organizations.ts). */
export function createRemoveUnverifiedMembersProcessor(deps: Pick<JobDeps, 'orm' | 'logger'>) {
  return async (job: Job<EmailVerificationJobData>): Promise<void> => {
    const removed = await removeUnverifiedMembers(deps.orm.em.fork(), job.data.organizationId);
    deps.logger.info({ jobId: job.id, organizationId: job.data.organizationId, removed: removed.length }, 'removed members without a verified e-mail');
  };
}
