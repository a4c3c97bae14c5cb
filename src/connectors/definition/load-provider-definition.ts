import jsonata from 'jsonata';
import { contentHash } from '../../core/content-hash.ts';
import { ROSTER_VERSION } from '../../core/version.ts';
import { compileFastPath } from './jsonata-fast-path.ts';
import { type z } from 'zod';
import { isKnownHook, KNOWN_HOOKS } from './known-hooks.ts';
import { isRecord } from './json-path.ts';
import {
  providerDefinitionSchema,
  RESOURCE_NAMES,
  type ProviderDefinitionSpec,
  type ResourceDefinition,
  type ResourceName,
} from './provider-definition.ts';
import { TemplateError, templatePlaceholders } from './url-template.ts';

/**
 * A mapping ready to evaluate: the fast path where it covers the expression (see jsonata-fast-path.ts),
 * the `jsonata` package for the rest and for every item the fast path declines or fails on, so results
 * and errors are always the package's.
 */
export interface CompiledExpression {
  evaluate(input: unknown): unknown;
  /** Whether the fast path covers the whole expression. */
  readonly fastPath: boolean;
}

export function compileMapping(source: string): CompiledExpression {
  const expression = jsonata(source);
  const fast = compileFastPath(expression.ast());
  if (fast === undefined) return { fastPath: false, evaluate: (input) => expression.evaluate(input) };
  return {
    fastPath: true,
    evaluate: (input) => {
      try {
        return fast(input);
      } catch {
        return expression.evaluate(input);
      }
    },
  };
}

export interface CompiledMappings {
  user: CompiledExpression;
  group?: CompiledExpression | undefined;
  member?: CompiledExpression | undefined;
}

/** A validated definition whose mappings are compiled: safe to page and map with, never re-checked. */
export interface ProviderDefinition extends ProviderDefinitionSpec {
  readonly compiled: CompiledMappings;
  /**
   * Names everything besides the item that decides the record an item is mapped to: the mappings, each
   * resource's volatile fields and id path, and the version of the code that evaluates them. A record's
   * `source_hash` covers it with the item, so a changed definition or a new Roster maps every item again.
   */
  readonly mappingFingerprint: string;
}

export interface DefinitionIssue {
  /** Where in the definition, e.g. `resources.users.pagination.tokenParam`. */
  path: string;
  message: string;
}

/** A definition that cannot be used; a configuration error, thrown at start-up. */
export class ProviderDefinitionError extends Error {
  override readonly name = 'ProviderDefinitionError';
  constructor(
    readonly providerId: string | undefined,
    readonly issues: DefinitionIssue[],
  ) {
    const label = providerId === undefined ? 'Invalid provider definition' : `Invalid provider definition "${providerId}"`;
    super(`${label}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
  }
}

/** zod's own wording for a missing key ("expected string, received undefined") hides what is wrong. */
export const REQUIRED_WORDING = {
  error: (issue: z.core.$ZodRawIssue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'Required' : undefined),
};

/** The placeholder an `itemPath` uses for the id of the item fetched. */
export const ITEM_ID_PLACEHOLDER = 'id';

/** The placeholder a `members` path uses for the group being listed. */
export const GROUP_ID_PLACEHOLDER = 'groupId';

/**
 * Validates a provider definition and compiles its JSONata mappings. Every problem is reported with the
 * path it is at, all at once, so an operator fixes a definition in one pass.
 */
export function loadProviderDefinition(input: unknown): ProviderDefinition {
  const providerId = isRecord(input) && typeof input.id === 'string' ? input.id : undefined;
  const parsed = providerDefinitionSchema.safeParse(input, REQUIRED_WORDING);
  if (!parsed.success) throw new ProviderDefinitionError(providerId, parsed.error.issues.map(fromZodIssue));

  const spec = parsed.data;
  const issues = [...checkTemplates(spec), ...checkResources(spec), ...checkHooks(spec)];
  const compiled = compileMappings(spec, issues);
  if (issues.length > 0 || compiled === undefined) throw new ProviderDefinitionError(spec.id, issues);
  return { ...spec, compiled, mappingFingerprint: mappingFingerprintOf(spec) };
}

/** A loaded definition as data again (without what loading derived), to load a variant of it. */
export function definitionSpecOf(definition: ProviderDefinition): ProviderDefinitionSpec {
  const { compiled: _compiled, mappingFingerprint: _fingerprint, ...spec } = definition;
  return spec;
}

function mappingFingerprintOf(spec: ProviderDefinitionSpec): string {
  const resources = Object.fromEntries(Object.entries(spec.resources).map(([name, resource]) => [name, resource && { volatileFields: resource.volatileFields, idPath: resource.idPath ?? null }]));
  return contentHash(JSON.stringify([ROSTER_VERSION, spec.id, spec.mappings, resources]));
}

function fromZodIssue(issue: z.core.$ZodIssue): DefinitionIssue {
  return { path: formatPath(issue.path) || '(root)', message: issue.message };
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out === '' ? String(key) : `${out}.${String(key)}`;
  }, '');
}

function checkTemplates(spec: ProviderDefinitionSpec): DefinitionIssue[] {
  const configKeys = Object.keys(spec.connectionConfig);
  const issues: DefinitionIssue[] = [];
  const check = (path: string, template: string, allowed: readonly string[]) => {
    let names: string[];
    try {
      names = templatePlaceholders(template);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      issues.push({ path, message: error.message });
      return;
    }
    for (const name of names) {
      if (!allowed.includes(name)) {
        const known = allowed.length === 0 ? 'none declared' : `known: ${allowed.join(', ')}`;
        issues.push({ path, message: `unknown placeholder "{${name}}" (${known}; declare it in connectionConfig)` });
      }
    }
  };

  check('baseUrl', spec.baseUrl, configKeys);
  spec.auth.forEach((auth, index) => {
    if (auth.type !== 'api_key_header') check(`auth[${index}].tokenUrl`, auth.tokenUrl, configKeys);
    if (auth.type === 'oauth2_authorization_code') check(`auth[${index}].authorizeUrl`, auth.authorizeUrl, configKeys);
  });
  for (const [name, resource] of resourceEntries(spec)) {
    const allowed = name === 'members' ? [...configKeys, GROUP_ID_PLACEHOLDER] : configKeys;
    check(`resources.${name}.path`, resource.path, allowed);
    if (resource.itemPath !== undefined) check(`resources.${name}.itemPath`, resource.itemPath, [...configKeys, ITEM_ID_PLACEHOLDER]);
    for (const [param, value] of Object.entries(resource.params)) check(`resources.${name}.params.${param}`, value, allowed);
    for (const [param, value] of Object.entries(resource.itemParams)) check(`resources.${name}.itemParams.${param}`, value, [...configKeys, ITEM_ID_PLACEHOLDER]);
  }
  return issues;
}

function checkResources(spec: ProviderDefinitionSpec): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  for (const [name, resource] of resourceEntries(spec)) {
    // The pager owns these parameters; a fixed value would freeze every request on the first page.
    const pagerParams = pagerParamNames(resource);
    for (const param of Object.keys(resource.params)) {
      if (pagerParams.includes(param)) {
        issues.push({ path: `resources.${name}.params.${param}`, message: `is set by the ${resource.pagination.style} pager` });
      }
    }
  }
  const members = spec.resources.members;
  for (const [name, resource] of resourceEntries(spec)) {
    if (resource.itemPath !== undefined && !resource.itemPath.includes(`{${ITEM_ID_PLACEHOLDER}}`)) {
      issues.push({ path: `resources.${name}.itemPath`, message: `must contain {${ITEM_ID_PLACEHOLDER}}` });
    }
  }
  if (members !== undefined && !members.path.includes(`{${GROUP_ID_PLACEHOLDER}}`)) {
    issues.push({ path: 'resources.members.path', message: `must contain {${GROUP_ID_PLACEHOLDER}}` });
  }
  if (members !== undefined && spec.resources.groups === undefined) {
    issues.push({ path: 'resources.groups', message: 'Required when resources.members is defined' });
  }
  if (spec.resources.groups !== undefined && spec.mappings.group === undefined) {
    issues.push({ path: 'mappings.group', message: 'Required when resources.groups is defined' });
  }
  if (members !== undefined && spec.mappings.member === undefined) {
    issues.push({ path: 'mappings.member', message: 'Required when resources.members is defined' });
  }
  return issues;
}

function pagerParamNames(resource: ResourceDefinition): string[] {
  const pagination = resource.pagination;
  if (pagination.style === 'page_token') return [pagination.tokenParam];
  if (pagination.style === 'offset') return [pagination.offsetParam, pagination.limitParam];
  return [];
}

function checkHooks(spec: ProviderDefinitionSpec): DefinitionIssue[] {
  return spec.hooks.flatMap((hook, index) =>
    isKnownHook(hook) ? [] : [{ path: `hooks[${index}]`, message: `unknown hook "${hook}" (known: ${KNOWN_HOOKS.join(', ')})` }],
  );
}

function compileMappings(spec: ProviderDefinitionSpec, issues: DefinitionIssue[]): CompiledMappings | undefined {
  const compile = (key: keyof ProviderDefinitionSpec['mappings']) => {
    const source = spec.mappings[key];
    if (source === undefined) return undefined;
    try {
      return compileMapping(source);
    } catch (error) {
      issues.push({ path: `mappings.${key}`, message: describeJsonataError(error) });
      return undefined;
    }
  };
  const user = compile('user');
  const group = compile('group');
  const member = compile('member');
  return user === undefined ? undefined : { user, group, member };
}

function describeJsonataError(error: unknown): string {
  if (!isRecord(error) || typeof error.message !== 'string') return `JSONata syntax error: ${String(error)}`;
  const position = typeof error.position === 'number' ? ` at position ${error.position}` : '';
  const code = typeof error.code === 'string' ? ` (${error.code})` : '';
  return `JSONata syntax error${position}: ${error.message}${code}`;
}

export function resourceEntries(spec: ProviderDefinitionSpec): Array<[ResourceName, ResourceDefinition]> {
  return RESOURCE_NAMES.flatMap((name) => {
    const resource = spec.resources[name];
    return resource === undefined ? [] : [[name, resource] as [ResourceName, ResourceDefinition]];
  });
}
