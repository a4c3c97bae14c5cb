import { googleWorkspaceType } from './google/google.connection.ts';
import type { PullConnectionType } from './pull-connection-type.ts';

/** Every pull connection type Roster knows, by its `type`. */
export const PULL_CONNECTION_TYPES: ReadonlyMap<string, PullConnectionType> = new Map([[googleWorkspaceType.type, googleWorkspaceType]]);

export function pullConnectionType(type: string): PullConnectionType | undefined {
  return PULL_CONNECTION_TYPES.get(type);
}
