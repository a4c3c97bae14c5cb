/**
 * The shapes of RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH paths, as parsed. Attribute names are kept as
 * written (the client's case); resolving them against a schema is case-insensitive.
 */

export const COMPARE_OPERATORS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const;
export type CompareOperator = (typeof COMPARE_OPERATORS)[number];

export type FilterValue = string | number | boolean | null;

/** `urn:…:User:manager.value` → { schema: 'urn:…:User', attribute: 'manager', subAttribute: 'value' }. */
export interface AttributePath {
  /** The schema URN when the client qualified the name with one. */
  schema?: string | undefined;
  attribute: string;
  subAttribute?: string | undefined;
}

export type Filter =
  | { kind: 'compare'; path: AttributePath; operator: CompareOperator; value: FilterValue }
  | { kind: 'present'; path: AttributePath }
  | { kind: 'and'; left: Filter; right: Filter }
  | { kind: 'or'; left: Filter; right: Filter }
  | { kind: 'not'; filter: Filter }
  /** `emails[type eq "work" and value co "@x"]`: an element of the multi-valued `path` matches `filter`. */
  | { kind: 'valuePath'; path: AttributePath; filter: Filter };

/**
 * A PATCH target: `members`, `name.givenName`, `emails[type eq "work"]`, `emails[type eq "work"].value`,
 * `urn:…:enterprise:2.0:User:manager`.
 */
export interface PatchPath {
  path: AttributePath;
  /** The element filter of a value path (`[…]`), relative to an element of `path`. */
  valueFilter?: Filter | undefined;
  /** The sub-attribute after a value filter (`emails[type eq "work"].value` → `value`). */
  subAttribute?: string | undefined;
}
