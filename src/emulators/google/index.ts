export { startGoogleEmulator, type GoogleEmulator, type GoogleEmulatorOptions } from './server.ts';
export { generateOrg, type GenerateOrgOptions } from './org-generator.ts';
export { GoogleOrg, type GoogleUser, type GoogleGroup, type StoredMember, type UserInput, type UserPatch, type UserChange } from './org-model.ts';
export type { GoogleEmulatorControl } from './control.ts';
export type { ThrottleRule, FaultRule, FaultKind } from './behaviours.ts';
export type { DeliverySwitches, Notification, WatchChannel } from './watch-channels.ts';
export { DIRECTORY_SCOPES, type ServiceAccountKey, type OAuthClient } from './oauth.ts';
