import { readFileSync } from 'node:fs';

/** This Roster's version, as its package states it. */
export const ROSTER_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
