export { startGraphEmulator, type GraphEmulator, type GraphEmulatorOptions } from './server.ts';
export { generateTenant, type GenerateTenantOptions } from './tenant-generator.ts';
export { GraphTenant, type GraphUser, type GraphGroup, type UserInput, type UserPatch, type GroupInput, type TenantChange } from './tenant-model.ts';
export type { GraphEmulatorControl } from './control.ts';
export type { GraphThrottleRule, FaultRule, FaultKind, ThrottleAnswerShape } from './behaviours.ts';
export { RESOURCE_UNIT_LIMITS } from './behaviours.ts';
export type { DeltaExpiryMode, DeltaSettings, DeltaSwitches } from './delta-query.ts';
export type { Delivery, DeliverySwitches, Handshake, LifecycleEvent, Subscription } from './subscriptions.ts';
export { GRAPH_DEFAULT_SCOPE, type AppRegistration } from './identity-platform.ts';
