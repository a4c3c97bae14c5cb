import type { Connector, PageOptions, RecordPage } from '../connector.ts';
import type { ProviderDefinition } from '../definition/load-provider-definition.ts';
import { mapUser } from '../definition/mapping-engine.ts';
import { pages, requireResource, resourceUrl, type FetchJson, type PageCheckpoint } from '../definition/pager.ts';
import type { ResourceName } from '../definition/provider-definition.ts';
import { readAhead } from '../read-ahead.ts';

/**
 * Okta's plain user list leaves DEPROVISIONED users out, so a snapshot that read only it would take every
 * deactivated person for an unknown deletion. The users of a full listing are therefore two listings in
 * one: the plain list, then `filter=status eq "DEPROVISIONED"`. The last page of the first hands on a
 * checkpoint at the start of the second, so a run resumed between them goes on with the second.
 * (A person deactivated or reactivated between the two listings is seen in one of them, or, for a moment,
 * in neither; the next full run sees them again.)
 */
export function oktaUserPages(options: {
  definition: ProviderDefinition;
  config: Readonly<Record<string, string>>;
  fetchJson: FetchJson;
  /** The plain list, as the definition connector maps it. */
  plain: Connector['pages'];
}): (page?: PageOptions) => AsyncIterable<RecordPage> {
  const { definition, config, fetchJson, plain } = options;
  return async function* (page = {}) {
    const checkpoint = page.checkpoint ?? null;
    if (checkpoint === null || checkpoint.resource === 'users') {
      for await (const listed of plain('users', page)) {
        yield { records: listed.records, checkpoint: listed.checkpoint ?? firstPageCheckpoint(definition, 'deletedUsers', config) };
      }
    }
    const resume = checkpoint?.resource === 'deletedUsers' ? checkpoint : null;
    for await (const { items, checkpoint: next } of readAhead(pages(definition, 'deletedUsers', { config, checkpoint: resume, signal: page.signal }, fetchJson))) {
      const records = [];
      for (const item of items) records.push(await mapUser(definition, item, 'deletedUsers'));
      yield { records, checkpoint: next };
    }
  };
}

/** A checkpoint naming the first page of a link-header resource: the URL the pager would start from. */
export function firstPageCheckpoint(definition: ProviderDefinition, resource: ResourceName, config: Readonly<Record<string, string>>): PageCheckpoint {
  return { resource, style: 'link_header', url: firstPageUrl(definition, resource, config) };
}

export function firstPageUrl(definition: ProviderDefinition, resource: ResourceName, config: Readonly<Record<string, string>>, extraParams: Record<string, string> = {}): string {
  const spec = requireResource(definition, resource);
  return resourceUrl(definition, spec.path, { ...spec.params, ...extraParams }, config).href;
}
