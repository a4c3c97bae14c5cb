export { startOktaEmulator, type OktaEmulator, type OktaEmulatorOptions } from './server.ts';
export { generateOrg, type GenerateOrgOptions } from './org-generator.ts';
export { OktaOrg, USER_STATUSES, type OktaUser, type OktaGroup, type UserStatus, type UserInput, type UserProfile, type GroupType } from './org-model.ts';
export type { OktaEmulatorControl } from './control.ts';
export type { FaultRule, FaultKind } from './behaviours.ts';
export type { BucketName, RateLimitRule } from './rate-limits.ts';
export type { DeliverySwitches, DeliveryRecord, EventHook } from './event-hooks.ts';
export type { LogEvent } from './system-log.ts';
export { READ_SCOPES, type ServiceAppCredentials } from './auth.ts';
