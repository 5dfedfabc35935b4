import { AuditLogEntry } from './audit-log-entry.entity';
import { Organization, OrganizationAvatar, OrganizationOption } from './organization.entity';
import { ProjectKey } from './project-key.entity';
import { ProjectTemplate, ProjectTemplateOption } from './project-template.entity';
import { Project, ProjectOption } from './project.entity';
import { Relay, RelayUsage, TrustedRelayKey } from './relay.entity';
import { SystemOption } from './system-option.entity';
import { Team } from './team.entity';
import { ApiToken, OrganizationMember, User, UserPermission } from './user.entity';

export * from './audit-log-entry.entity';
export * from './organization.entity';
export * from './project-key.entity';
export * from './project-template.entity';
export * from './project.entity';
export * from './relay.entity';
export * from './system-option.entity';
export * from './team.entity';
export * from './user.entity';

/** Every entity, for the ORM configuration. */
export const allEntities = [
  Organization,
  OrganizationOption,
  OrganizationAvatar,
  Team,
  ProjectTemplate,
  ProjectTemplateOption,
  Project,
  ProjectOption,
  ProjectKey,
  Relay,
  RelayUsage,
  TrustedRelayKey,
  User,
  UserPermission,
  ApiToken,
  OrganizationMember,
  AuditLogEntry,
  SystemOption,
];
