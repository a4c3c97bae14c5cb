import { googleWorkspaceType } from './google/google.connection.ts';
import { jumpCloudType } from './jumpcloud/jumpcloud.connection.ts';
import { microsoftGraphType } from './microsoft-graph/graph.connection.ts';
import { oktaType } from './okta/okta.connection.ts';
import type { PullConnectionType } from './pull-connection-type.ts';

/** Every pull connection type Roster knows, by its `type`. */
export const PULL_CONNECTION_TYPES: ReadonlyMap<string, PullConnectionType> = new Map([
  [googleWorkspaceType.type, googleWorkspaceType],
  [jumpCloudType.type, jumpCloudType],
  [microsoftGraphType.type, microsoftGraphType],
  [oktaType.type, oktaType],
]);

export function pullConnectionType(type: string): PullConnectionType | undefined {
  return PULL_CONNECTION_TYPES.get(type);
}
