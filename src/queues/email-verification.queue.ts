import type { Queue } from 'bullmq';

/**
 * Background clean-up after an organization starts requiring verified e-mail addresses
 * (ADMIN_API.md, "Other organization settings"): removes the members whose e-mail is not verified.
 */
export interface EmailVerificationJobData {
  organizationId: number;
}

export type EmailVerificationQueue = Queue<EmailVerificationJobData, void, 'remove-unverified-members'>;

/**
 * Schedules the clean-up of one organization: at most one waiting job per organization (it reads
 * the members when it runs, so it covers every request before it), and a request that arrives
 * while one runs gets a job of its own afterwards.
 */
export async function scheduleRemoveUnverifiedMembers(queue: EmailVerificationQueue, organizationId: number): Promise<void> {
  await queue.add('remove-unverified-members', { organizationId }, { deduplication: { id: `organization:${organizationId}`, keepLastIfActive: true } });
}
