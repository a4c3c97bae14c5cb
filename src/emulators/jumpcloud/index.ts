export { startJumpCloudEmulator, type JumpCloudEmulator, type JumpCloudEmulatorOptions } from './server.ts';
export { generateJumpCloudOrg, type GenerateJumpCloudOrgOptions } from './org-generator.ts';
export { JumpCloudOrg, type SystemUser, type SystemUserInput, type SystemUserPatch, type SystemUserState, type UserGroup, type UserGroupInput } from './org-model.ts';
export type { JumpCloudEmulatorControl } from './control.ts';
export type { ThrottleRule, FaultRule, FaultKind, LoggedRequest } from './behaviours.ts';
export type { DriftRule, DriftApplied } from './drift.ts';
export type { OrgIdRule } from './api-keys.ts';
