import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { stableJson } from '../src/core/content-hash.ts';
import { membershipKey, nestingKey } from '../src/reconcile/incoming.ts';
import { loadProviderDefinition, ProviderDefinitionError, type ProviderDefinition } from '../src/connectors/definition/load-provider-definition.ts';
import { mapGroup, mapListedMembers, mapListedPage, mapMember, mapUser, MappingError, sourceHashOf } from '../src/connectors/definition/mapping-engine.ts';
import { pages, PagingError, type FetchJson, type Page, type PageCheckpoint, type PageContext } from '../src/connectors/definition/pager.ts';
import { googleWorkspaceDefinition } from '../src/connectors/google/google.definition.ts';
import { channelsStopUrl } from '../src/connectors/google/google-watch-channels.ts';
import { oktaDefinition } from '../src/connectors/okta/okta.definition.ts';

// ---- helpers -------------------------------------------------------------------------------------------

type Handler = (url: URL, req: IncomingMessage, res: ServerResponse) => void;

/** A real listening server; the handler is made once the origin (for absolute next links) is known. */
async function withServer(makeHandler: (origin: string) => Handler, run: (origin: string, requests: URL[]) => Promise<void>): Promise<void> {
  const requests: URL[] = [];
  let handler: Handler = (_url, _req, res) => send(res, 503, {});
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    requests.push(url);
    handler(url, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  handler = makeHandler(origin);
  try {
    await run(origin, requests);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The injected client: real HTTP; `rewrite` points a provider's real origin at the local server. */
function httpFetchJson(rewrite?: { from: string; to: string }): FetchJson {
  return async (url, init) => {
    const target = rewrite !== undefined && url.startsWith(rewrite.from) ? rewrite.to + url.slice(rewrite.from.length) : url;
    const response = await fetch(target, { method: init.method, headers: init.headers });
    const text = await response.text();
    return { status: response.status, headers: Object.fromEntries(response.headers), body: text === '' ? null : JSON.parse(text) };
  };
}

async function collect(iterator: AsyncIterable<Page>): Promise<Page[]> {
  const out: Page[] = [];
  for await (const page of iterator) out.push(page);
  return out;
}

const ITEMS = Array.from({ length: 7 }, (_, i) => ({ id: `u${i}`, primaryEmail: `u${i}@example.com` }));
const PAGE = 3;

function testDefinition(resource: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown {
  return {
    id: 'test-provider',
    displayName: 'Test provider',
    connectionConfig: { port: { description: 'local server port' } },
    baseUrl: 'http://127.0.0.1:{port}/api',
    auth: [{ type: 'api_key_header', headerName: 'Authorization', prefix: 'SSWS ' }],
    resources: { users: { path: '/users', itemsPath: 'users', ...resource } },
    mappings: { user: '{ "id": id, "attributes": { "email": primaryEmail } }' },
    ...extra,
  };
}

function portOf(origin: string): string {
  return new URL(origin).port;
}

/** Refuses `input` and returns the message, asserting it names the problem precisely. */
function refusal(input: unknown): string {
  try {
    loadProviderDefinition(input);
  } catch (error) {
    assert.ok(error instanceof ProviderDefinitionError, String(error));
    return error.message;
  }
  assert.fail('definition was accepted');
}

const REMOVE = Symbol('remove');

/** A copy of the Google definition with values set (or removed) at paths, to break it in one place. */
function googleWith(...patches: Array<[path: Array<string | number>, value: unknown]>): unknown {
  const copy: unknown = structuredClone(googleWorkspaceDefinition);
  for (const [path, value] of patches) {
    const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], copy) as Record<string | number, unknown>;
    const key = path.at(-1)!;
    if (value === REMOVE) delete parent[key];
    else parent[key] = value;
  }
  return copy;
}

// ---- loading -------------------------------------------------------------------------------------------

test('the Google Workspace definition loads, with its mappings compiled and defaults applied', () => {
  const google = loadProviderDefinition(googleWorkspaceDefinition);
  assert.equal(google.id, 'google-workspace');
  assert.equal(typeof google.compiled.user.evaluate, 'function');
  assert.equal(typeof google.compiled.group?.evaluate, 'function');
  assert.equal(typeof google.compiled.member?.evaluate, 'function');
  assert.deepEqual(google.resources.users.params, { customer: 'my_customer', maxResults: '500', projection: 'full' });
  // showDeleted=true lists only deleted users: never part of the users enumeration a snapshot trusts.
  assert.deepEqual(google.resources.deletedUsers?.params, { customer: 'my_customer', showDeleted: 'true', maxResults: '500' });
  assert.equal(google.resources.groups?.params.maxResults, '200');
  assert.equal(google.resources.members?.params.maxResults, '200');
  assert.equal(google.resources.users.absentItemsMeansEmpty, true);
  assert.deepEqual(google.resources.users.volatileFields, ['etag', 'lastLoginTime']);
  assert.deepEqual(google.hooks, ['google.watchChannels']);
  assert.deepEqual(google.auth.map((auth) => auth.type), ['jwt_bearer', 'oauth2_authorization_code']);
  assert.equal(google.rateLimit?.retryAfterHeader, 'retry-after');
});

test('a definition missing a pagination parameter is refused naming its path', () => {
  const message = refusal(googleWith([['resources', 'users', 'pagination', 'tokenParam'], REMOVE]));
  assert.equal(message, 'Invalid provider definition "google-workspace": resources.users.pagination.tokenParam: Required');
});

test('a JSONata syntax error is refused with its path and position', () => {
  const message = refusal(googleWith([['mappings', 'user'], '{ "id": id, "x": $foo( }']));
  assert.match(message, /: mappings\.user: JSONata syntax error at position 24: The symbol "\}" cannot be used as a unary operator/);
});

test('an unknown URL placeholder is refused, in the base URL, a token URL, a path, a parameter and an item parameter', () => {
  assert.match(refusal(testDefinition({ pagination: { style: 'none' } }, { baseUrl: 'https://{domain}.okta.com/api/v1' })), /baseUrl: unknown placeholder "\{domain\}" \(known: port; declare it in connectionConfig\)/);
  assert.match(
    refusal(googleWith([['auth', 0, 'tokenUrl'], 'https://{region}.example.com/token'])),
    /auth\[0\]\.tokenUrl: unknown placeholder "\{region\}" \(none declared/,
  );
  assert.match(refusal(googleWith([['resources', 'users', 'path'], '/groups/{groupId}/users'])), /resources\.users\.path: unknown placeholder "\{groupId\}"/);
  assert.match(refusal(googleWith([['resources', 'users', 'params', 'customer'], '{customerId}'])), /resources\.users\.params\.customer: unknown placeholder "\{customerId\}"/);
  assert.match(refusal(googleWith([['baseUrl'], 'https://admin.googleapis.com/{oops'])), /baseUrl: unbalanced "\{" or "\}"/);
  assert.match(refusal(googleWith([['resources', 'users', 'itemParams', 'projection'], '{nope}'])), /resources\.users\.itemParams\.projection: unknown placeholder "\{nope\}"/);
});

test('Okta users are one enumeration: a filter naming every status, so DEPROVISIONED users come in the same listing', () => {
  const { users } = oktaDefinition.resources;
  for (const status of ['STAGED', 'PROVISIONED', 'ACTIVE', 'RECOVERY', 'PASSWORD_EXPIRED', 'LOCKED_OUT', 'SUSPENDED', 'DEPROVISIONED']) {
    assert.ok(users.params.filter.includes(`status eq "${status}"`), status);
  }
  assert.equal('deletedUsers' in oktaDefinition.resources, false, 'no second listing to fall between');
});

test('the channels/stop URL sits beside the Directory API root, under any prefix the root has', () => {
  assert.equal(channelsStopUrl('https://admin.googleapis.com/admin/directory/v1').href, 'https://admin.googleapis.com/admin/directory_v1/channels/stop');
  assert.equal(channelsStopUrl('https://proxy.example/google/admin/directory/v1/').href, 'https://proxy.example/google/admin/directory_v1/channels/stop');
});

test('an unknown hook, an unknown pagination style and unknown keys are refused', () => {
  assert.match(refusal(googleWith([['hooks', 1], 'google.magic'])), /hooks\[1\]: unknown hook "google\.magic" \(known: graph\.usersDelta/);
  assert.match(refusal(googleWith([['resources', 'groups', 'pagination'], { style: 'cursor' }])), /resources\.groups\.pagination\.style: Invalid discriminator value/);
  assert.match(refusal(googleWith([['resources', 'users', 'itemsKey'], 'users'])), /resources\.users: Unrecognized key: "itemsKey"/);
  assert.match(refusal(googleWith([['resources', 'users', 'itemPath'], 'users'])), /resources\.users\.itemPath: must start with \//);
  assert.match(refusal(googleWith([['resources', 'users', 'itemPath'], '/users/{userKey}'])), /resources\.users\.itemPath: unknown placeholder "\{userKey\}"/);
  assert.match(refusal(googleWith([['resources', 'groups', 'itemPath'], '/groups'])), /resources\.groups\.itemPath: must contain \{id\}/);
  assert.match(refusal(googleWith([['auth'], [{ type: 'api_key_header' }]])), /auth\[0\]\.headerName: Required/);
});

test('inconsistent resources are refused: members without {groupId}, a pager parameter fixed, a missing mapping', () => {
  assert.match(refusal(googleWith([['resources', 'members', 'path'], '/members'])), /resources\.members\.path: must contain \{groupId\}/);
  assert.match(refusal(googleWith([['resources', 'users', 'params', 'pageToken'], 'x'])), /resources\.users\.params\.pageToken: is set by the page_token pager/);
  assert.match(refusal(googleWith([['mappings', 'member'], REMOVE])), /mappings\.member: Required when resources\.members is defined/);
  const all = refusal(googleWith([['hooks'], ['nope']], [['mappings', 'group'], '(']));
  assert.match(all, /hooks\[0\]: unknown hook "nope".*; mappings\.group: JSONata syntax error/);
});

// ---- paging ----------------------------------------------------------------------------------------------

interface StyleCase {
  name: string;
  resource: (origin: string) => Record<string, unknown>;
  handler: (origin: string) => Handler;
}

const styleCases: StyleCase[] = [
  {
    name: 'page_token',
    resource: () => ({ params: { maxResults: String(PAGE) }, pagination: { style: 'page_token', tokenParam: 'pageToken', tokenPath: 'nextPageToken' } }),
    handler: () => (url, _req, res) => {
      assert.equal(url.searchParams.get('maxResults'), String(PAGE));
      const start = Number(url.searchParams.get('pageToken')?.slice(1) ?? 0);
      const end = start + PAGE;
      send(res, 200, { users: ITEMS.slice(start, end), ...(end < ITEMS.length ? { nextPageToken: `t${end}` } : {}) });
    },
  },
  {
    name: 'next_link',
    resource: () => ({ itemsPath: 'value', pagination: { style: 'next_link' } }),
    handler: (origin) => (url, _req, res) => {
      const start = Number(url.searchParams.get('$skiptoken') ?? 0);
      const end = start + PAGE;
      const next = end < ITEMS.length ? { '@odata.nextLink': `${origin}/api/users?$skiptoken=${end}` } : {};
      send(res, 200, { value: ITEMS.slice(start, end), ...next });
    },
  },
  {
    name: 'link_header',
    resource: () => ({ itemsPath: '.', pagination: { style: 'link_header' } }),
    handler: () => (url, _req, res) => {
      const start = Number(url.searchParams.get('after') ?? 0);
      const end = start + PAGE;
      // Relative targets and several rels, as Okta sends them.
      const link = end < ITEMS.length ? `</api/users?after=0>; rel="self", </api/users?after=${end}>; rel="next"` : '</api/users?after=0>; rel="self"';
      send(res, 200, ITEMS.slice(start, end), { link });
    },
  },
  {
    name: 'offset',
    resource: () => ({ itemsPath: 'data.items', pagination: { style: 'offset', offsetParam: 'start', limitParam: 'count', pageSize: PAGE } }),
    handler: () => (url, _req, res) => {
      const start = Number(url.searchParams.get('start'));
      assert.equal(url.searchParams.get('count'), String(PAGE));
      send(res, 200, { data: { items: ITEMS.slice(start, start + PAGE) } });
    },
  },
];

for (const style of styleCases) {
  test(`${style.name} pagination pages a server to the end and resumes from a checkpoint`, async () => {
    await withServer(
      style.handler,
      async (origin, requests) => {
        const definition = loadProviderDefinition(testDefinition(style.resource(origin)));
        const context: PageContext = { config: { port: portOf(origin) } };
        const all = await collect(pages(definition, 'users', context, httpFetchJson()));
        assert.deepEqual(all.flatMap((page) => page.items), ITEMS);
        assert.deepEqual(all.map((page) => page.items.length), [3, 3, 1]);
        assert.equal(all.at(-1)?.checkpoint, null);
        assert.ok(requests.every((url) => url.pathname === '/api/users'));

        // A crash after page one: the stored cursor (through JSON, as it would be persisted) resumes at page two.
        const stored = JSON.parse(JSON.stringify(all[0]?.checkpoint)) as PageCheckpoint;
        assert.equal(stored.style, style.name);
        const before = requests.length;
        const resumed = await collect(pages(definition, 'users', { ...context, checkpoint: stored }, httpFetchJson()));
        assert.deepEqual(resumed.flatMap((page) => page.items), ITEMS.slice(PAGE));
        assert.equal(requests.length - before, 2, 'page one is not fetched again');
      },
    );
  });
}


test('a resource without pagination is read in one request', async () => {
  await withServer(
    () => (_url, _req, res) => send(res, 200, { users: ITEMS, nextPageToken: 'ignored' }),
    async (origin, requests) => {
      const definition = loadProviderDefinition(testDefinition({ pagination: { style: 'none' } }));
      const all = await collect(pages(definition, 'users', { config: { port: portOf(origin) } }, httpFetchJson()));
      assert.deepEqual(all, [{ items: ITEMS, checkpoint: null }]);
      assert.equal(requests.length, 1);
    },
  );
});

test('an absent item array is an empty page only where the definition says so', async () => {
  await withServer(
    () => (url, _req, res) => {
      // Page one has users; page two answers like Google with no results: no `users` key at all.
      if (url.searchParams.get('pageToken') === null) send(res, 200, { kind: 'admin#directory#users', users: ITEMS.slice(0, 2), nextPageToken: 'p2' });
      else send(res, 200, { kind: 'admin#directory#users', etag: '"e"' });
    },
    async (origin) => {
      const pagination = { style: 'page_token', tokenParam: 'pageToken', tokenPath: 'nextPageToken' };
      const context = { config: { port: portOf(origin) } };
      const lenient = loadProviderDefinition(testDefinition({ pagination, absentItemsMeansEmpty: true }));
      const all = await collect(pages(lenient, 'users', context, httpFetchJson()));
      assert.deepEqual(all.map((page) => page.items.length), [2, 0]);
      assert.equal(all.at(-1)?.checkpoint, null);

      const strict = loadProviderDefinition(testDefinition({ pagination }));
      const seen: Page[] = [];
      await assert.rejects(
        async () => {
          for await (const page of pages(strict, 'users', context, httpFetchJson())) seen.push(page);
        },
        (error: unknown) => error instanceof PagingError && /response has no "users" item array/.test(error.message),
      );
      assert.equal(seen.length, 1, 'the first page was yielded before the broken one failed');
    },
  );
});

test('a failing page, a next link to another host and a foreign checkpoint are refused', async () => {
  await withServer(
    () => (url, _req, res) => {
      if (url.searchParams.has('fail')) send(res, 500, { error: 'boom' });
      else send(res, 200, { value: [ITEMS[0]], '@odata.nextLink': 'https://evil.example.com/api/users?page=2' });
    },
    async (origin) => {
      const context = { config: { port: portOf(origin) } };
      const nextLink = loadProviderDefinition(testDefinition({ itemsPath: 'value', pagination: { style: 'next_link' } }));
      await assert.rejects(collect(pages(nextLink, 'users', context, httpFetchJson())), /next page https:\/\/evil\.example\.com\/api\/users\?page=2 leaves http:\/\/127\.0\.0\.1/);

      const failing = loadProviderDefinition(testDefinition({ params: { fail: '1' }, pagination: { style: 'none' } }));
      await assert.rejects(collect(pages(failing, 'users', context, httpFetchJson())), (error: unknown) => error instanceof PagingError && error.status === 500);

      const foreign: PageCheckpoint = { resource: 'groups', style: 'next_link', url: `${origin}/api/groups` };
      await assert.rejects(collect(pages(nextLink, 'users', { ...context, checkpoint: foreign }, httpFetchJson())), /does not belong to users \(next_link\)/);
    },
  );
});

// ---- Google Workspace ------------------------------------------------------------------------------------

/** Users as Admin SDK users.list returns them (projection=full), per providers/google-workspace.md. */
const ADA = {
  kind: 'admin#directory#user',
  id: '104657813365928103845',
  etag: '"nMFNp3gpN7yH1Lrb9o2yT4IgZXzHEkUJ6TcsPjpe9Q8/ZfT0cWHx0S4tMPkWIYBaXDbwz3A"',
  primaryEmail: 'ada@acme.example',
  name: { givenName: 'Ada', familyName: 'Lovelace', fullName: 'Ada Lovelace' },
  isAdmin: false,
  isDelegatedAdmin: false,
  lastLoginTime: '2026-11-20T08:14:03.000Z',
  creationTime: '2021-03-01T09:00:00.000Z',
  suspended: false,
  archived: false,
  customerId: 'C03az79cb',
  orgUnitPath: '/Engineering',
  emails: [
    { address: 'ada@acme.example', primary: true },
    { address: 'ada.lovelace@acme.example', type: 'work' },
    { address: 'ada@acme-test.example.com' },
  ],
  aliases: ['ada.l@acme.example'],
  nonEditableAliases: ['ada@acme.example.test-google-a.com'],
  organizations: [
    { name: 'Acme', title: 'Analyst', department: 'Research', primary: false, customType: '' },
    { name: 'Acme', title: 'Staff Engineer', department: 'Engineering', costCenter: 'ENG-01', primary: true, customType: '' },
  ],
  relations: [
    { value: 'grace@acme.example', type: 'manager' },
    { value: 'charles@acme.example', type: 'assistant' },
  ],
  externalIds: [
    { value: 'gh-ada', type: 'custom', customType: 'github' },
    { value: 'E-1001', type: 'organization' },
  ],
  customSchemas: { Employment: { costCenter: 'ENG-01', level: 5 }, Badges: { floor: '3' } },
};

const SUSPENDED = {
  kind: 'admin#directory#user',
  id: '109876543210987654321',
  etag: '"abc"',
  primaryEmail: 'sam@acme.example',
  name: { givenName: 'Sam', familyName: 'Suspended', fullName: 'Sam Suspended' },
  suspended: true,
  suspensionReason: 'ADMIN',
  archived: false,
  emails: [{ address: 'sam@acme.example', primary: true }],
  lastLoginTime: '1970-01-01T00:00:00.000Z',
};
const ARCHIVED = { ...SUSPENDED, id: '100000000000000000001', primaryEmail: 'arch@acme.example', emails: undefined, suspended: false, suspensionReason: undefined, archived: true };
const DELETED = { kind: 'admin#directory#user', id: '100000000000000000002', primaryEmail: 'gone@acme.example', name: { fullName: 'Gone' }, deletionTime: '2026-11-19T10:00:00.000Z' };

async function google(): Promise<ProviderDefinition> {
  return loadProviderDefinition(googleWorkspaceDefinition);
}

test('a full Google user maps every canonical field', async () => {
  const record = await mapUser(await google(), ADA);
  assert.equal(record.kind, 'user');
  assert.equal(record.external_id, '104657813365928103845');
  assert.equal(record.deleted, false);
  assert.ok(record.kind === 'user' && !record.deleted && 'attributes' in record);
  assert.deepEqual(record.attributes, {
    email: 'ada@acme.example',
    emails: ['ada@acme.example', 'ada.lovelace@acme.example', 'ada@acme-test.example.com', 'ada.l@acme.example', 'ada@acme.example.test-google-a.com'],
    first_name: 'Ada',
    last_name: 'Lovelace',
    display_name: 'Ada Lovelace',
    department: 'Engineering',
    title: 'Staff Engineer',
    employee_id: 'E-1001',
    manager: { email: 'grace@acme.example' },
    state: 'active',
    custom_attributes: { 'Employment.costCenter': 'ENG-01', 'Employment.level': 5, 'Badges.floor': '3' },
  });
});

test('Google suspended, archived and deleted users map to suspended, inactive and a tombstone', async () => {
  const definition = await google();
  const suspended = await mapUser(definition, SUSPENDED);
  assert.ok(suspended.kind === 'user' && !suspended.deleted && 'attributes' in suspended);
  assert.equal(suspended.attributes.state, 'suspended');
  assert.equal(suspended.attributes.manager, null);
  assert.deepEqual(suspended.attributes.emails, ['sam@acme.example']);
  assert.equal(suspended.attributes.department, undefined);
  assert.equal(suspended.attributes.employee_id, undefined);

  const archived = await mapUser(definition, ARCHIVED);
  assert.ok(archived.kind === 'user' && !archived.deleted && 'attributes' in archived);
  assert.equal(archived.attributes.state, 'inactive');
  assert.deepEqual(archived.attributes.emails, ['arch@acme.example']);

  // Suspended wins over archived: the account is blocked either way, and suspension is the stronger signal.
  const both = await mapUser(definition, { ...ARCHIVED, suspended: true });
  assert.ok(both.kind === 'user' && !both.deleted && 'attributes' in both);
  assert.equal(both.attributes.state, 'suspended');

  assert.deepEqual(await mapUser(definition, DELETED, 'deletedUsers'), { kind: 'user', external_id: '100000000000000000002', deleted: true });
});

test('volatile Google fields never change the stored raw; a real change does', async () => {
  const definition = await google();
  const first = await mapUser(definition, ADA);
  const relogged = await mapUser(definition, { ...ADA, etag: '"new-etag"', lastLoginTime: '2026-11-22T07:00:00.000Z' });
  assert.ok('raw' in first && 'raw' in relogged);
  assert.equal(stableJson(relogged.raw), stableJson(first.raw));
  assert.deepEqual(relogged, first);
  const raw = first.raw as Record<string, unknown>;
  assert.equal('etag' in raw, false);
  assert.equal('lastLoginTime' in raw, false);
  assert.equal(raw.creationTime, ADA.creationTime, 'the rest of the payload is kept');
  assert.equal(typeof ADA.etag, 'string', 'the input item is not mutated');

  const promoted = await mapUser(definition, { ...ADA, isAdmin: true });
  assert.ok('raw' in promoted);
  assert.notEqual(stableJson(promoted.raw), stableJson(first.raw));
});

test('a listed page carries each item\'s source hash; items the store holds unchanged come back restated, unmapped', async () => {
  const definition = await google();
  const changed = { ...ADA, id: '104657813365928100000', primaryEmail: 'new@acme.example' };
  const asked: Array<{ kind: string; items: Array<{ external_id: string; source_hash: string }> }> = [];
  const records = await mapListedPage(definition, 'users', [ADA, changed, DELETED], async (kind, items) => {
    asked.push({ kind, items: [...items] });
    return new Set([ADA.id]);
  });
  assert.deepEqual(asked, [{ kind: 'user', items: [ADA, changed, DELETED].map((item) => ({ external_id: item.id, source_hash: sourceHashOf(definition, item) })) }], 'one question a page, every item by id and hash');
  assert.deepEqual(records[0], { kind: 'user', external_id: ADA.id, deleted: false, restated: sourceHashOf(definition, ADA) });
  assert.deepEqual(records[1], { ...(await mapUser(definition, changed)), source_hash: sourceHashOf(definition, changed) }, 'the others are mapped, with their hash');
  assert.deepEqual(records[2], { kind: 'user', external_id: DELETED.id, deleted: true }, 'a tombstone carries no hash');
  // Without a lookup (a full run), everything is mapped and hashed.
  const full = await mapListedPage(definition, 'users', [ADA]);
  assert.deepEqual(full, [{ ...(await mapUser(definition, ADA)), source_hash: sourceHashOf(definition, ADA) }]);
});

test('listed members: memberships the store holds unchanged come back restated; nestings are mapped; others stay out', async () => {
  const definition = await google();
  const group = '03x8tuzt1abcdef';
  const user = { kind: 'admin#directory#member', id: ADA.id, email: ADA.primaryEmail, role: 'MEMBER', type: 'USER', status: 'ACTIVE' };
  const other = { ...user, id: '104657813365928100000', email: 'new@acme.example' };
  const nested = { id: '01abc', email: 'platform@acme.example', role: 'MEMBER', type: 'GROUP', status: 'ACTIVE' };
  const customer = { id: 'C03az79cb', role: 'MEMBER', type: 'CUSTOMER' };
  const asked: Array<{ kind: string; ids: string[] }> = [];
  const records = await mapListedMembers(definition, group, [user, other, nested, customer], async (kind, items) => {
    asked.push({ kind, ids: items.map((i) => i.external_id) });
    return new Set([membershipKey(group, ADA.id)]);
  });
  assert.deepEqual(asked, [{ kind: 'membership', ids: [user, other, nested, customer].map((m) => membershipKey(group, m.id)) }]);
  assert.deepEqual(records, [
    { kind: 'membership', external_id: membershipKey(group, ADA.id), deleted: false, restated: sourceHashOf(definition, user) },
    { ...(await mapMember(definition, group, other) as any).record, source_hash: sourceHashOf(definition, other) },
    { ...(await mapMember(definition, group, nested) as any).record, source_hash: sourceHashOf(definition, nested) },
  ]);
});

test('the source hash covers the whole item and the mapping: a volatile field or another mapping gives another hash', async () => {
  const definition = await google();
  const hash = sourceHashOf(definition, ADA);
  assert.equal(sourceHashOf(await google(), { ...ADA }), hash, 'the same item under the same definition');
  // The stored raw drops volatile fields, but a mapping could read them: the hash does not.
  assert.notEqual(sourceHashOf(definition, { ...ADA, lastLoginTime: '2026-11-22T07:00:00.000Z' }), hash);
  const remapped = loadProviderDefinition({ ...googleWorkspaceDefinition, mappings: { ...googleWorkspaceDefinition.mappings, user: '{ "id": id, "attributes": { "email": primaryEmail } }' } });
  assert.notEqual(remapped.mappingFingerprint, definition.mappingFingerprint);
  assert.notEqual(sourceHashOf(remapped, ADA), hash);
  const otherVolatile = loadProviderDefinition({ ...googleWorkspaceDefinition, resources: { ...googleWorkspaceDefinition.resources, users: { ...googleWorkspaceDefinition.resources.users, volatileFields: ['etag'] } } });
  assert.notEqual(sourceHashOf(otherVolatile, ADA), hash, 'what is stored of the item is part of the mapping');
  // A resource without an id path is mapped as before, with no hash and no question asked.
  const noIdPath = loadProviderDefinition({ ...googleWorkspaceDefinition, resources: { ...googleWorkspaceDefinition.resources, users: { ...googleWorkspaceDefinition.resources.users, idPath: undefined } } });
  let asked = false;
  const records = await mapListedPage(noIdPath, 'users', [ADA], async () => ((asked = true), new Set([ADA.id])));
  assert.equal(asked, false);
  assert.deepEqual(records, [await mapUser(noIdPath, ADA)]);
});

test('Google groups and members map; a nested group is not a user membership', async () => {
  const definition = await google();
  const group = await mapGroup(definition, {
    kind: 'admin#directory#group',
    id: '03x8tuzt1abcdef',
    etag: '"g1"',
    email: 'eng@acme.example',
    name: 'Engineering',
    description: 'All engineers',
    directMembersCount: '42',
    adminCreated: true,
  });
  assert.deepEqual(group, {
    kind: 'group',
    external_id: '03x8tuzt1abcdef',
    deleted: false,
    attributes: { name: 'Engineering', email: 'eng@acme.example', description: 'All engineers' },
    raw: { kind: 'admin#directory#group', id: '03x8tuzt1abcdef', email: 'eng@acme.example', name: 'Engineering', description: 'All engineers', adminCreated: true },
  });

  const member = { kind: 'admin#directory#member', etag: '"m"', id: ADA.id, email: ADA.primaryEmail, role: 'MEMBER', type: 'USER', status: 'ACTIVE' };
  assert.deepEqual(await mapMember(definition, '03x8tuzt1abcdef', member), {
    kind: 'membership',
    record: {
      kind: 'membership',
      external_id: membershipKey('03x8tuzt1abcdef', ADA.id),
      deleted: false,
      group_external_id: '03x8tuzt1abcdef',
      user_external_id: ADA.id,
      raw: { kind: 'admin#directory#member', id: ADA.id, email: ADA.primaryEmail, role: 'MEMBER', type: 'USER', status: 'ACTIVE' },
    },
  });
  const nested = await mapMember(definition, '03x8tuzt1abcdef', { id: '01abc', email: 'platform@acme.example', role: 'MEMBER', type: 'GROUP', status: 'ACTIVE' });
  assert.equal(nested.kind, 'nested_group');
  assert.ok(nested.kind === 'nested_group');
  assert.deepEqual(nested.record, {
    kind: 'group_nesting',
    external_id: nestingKey('03x8tuzt1abcdef', '01abc'),
    deleted: false,
    group_external_id: '03x8tuzt1abcdef',
    child_group_external_id: '01abc',
    raw: { id: '01abc', email: 'platform@acme.example', role: 'MEMBER', type: 'GROUP', status: 'ACTIVE' },
  });
  const customer = await mapMember(definition, '03x8tuzt1abcdef', { id: 'C03az79cb', role: 'MEMBER', type: 'CUSTOMER' });
  assert.equal(customer.kind, 'ignored');
});

test('the Google definition pages users.list with its parameters and an absent users key', async () => {
  await withServer(
    () => (url, _req, res) => {
      if (url.searchParams.get('pageToken') === null) send(res, 200, { kind: 'admin#directory#users', etag: '"l"', users: [ADA, SUSPENDED], nextPageToken: 'CjAK' });
      else send(res, 200, { kind: 'admin#directory#users', etag: '"l"' });
    },
    async (origin, requests) => {
      const definition = await google();
      const fetchJson = httpFetchJson({ from: 'https://admin.googleapis.com', to: origin });
      const all = await collect(pages(definition, 'users', { config: {} }, fetchJson));
      assert.deepEqual(all.map((page) => page.items.length), [2, 0]);
      assert.deepEqual(all[0]?.checkpoint, { resource: 'users', style: 'page_token', token: 'CjAK' });
      assert.equal(requests[0]?.pathname, '/admin/directory/v1/users');
      assert.deepEqual(Object.fromEntries(requests[0]?.searchParams ?? []), { customer: 'my_customer', maxResults: '500', projection: 'full' });
      assert.equal(requests[1]?.searchParams.get('pageToken'), 'CjAK');

      const deleted = await collect(pages(definition, 'deletedUsers', { config: {} }, fetchJson));
      assert.equal(requests[2]?.searchParams.get('showDeleted'), 'true');
      assert.equal(deleted.length, 2);

      const members = await collect(pages(definition, 'members', { config: {}, groupId: 'eng@acme/x' }, fetchJson));
      assert.equal(members.length, 2);
      assert.equal(requests[4]?.pathname, '/admin/directory/v1/groups/eng%40acme%2Fx/members', 'the group id cannot change the path');
      assert.equal(requests[4]?.searchParams.get('maxResults'), '200');
    },
  );
});

// ---- invalid mapping results -----------------------------------------------------------------------------

test('a mapping that produces an invalid record is refused naming the item and the field', async () => {
  const badState = loadProviderDefinition(
    testDefinition({ pagination: { style: 'none' } }, { mappings: { user: '{ "id": id, "attributes": { "email": primaryEmail, "state": status } }' } }),
  );
  await assert.rejects(mapUser(badState, { id: 'u42', primaryEmail: 'x@example.com', status: 'ACTIVE' }), (error: unknown) => {
    assert.ok(error instanceof MappingError);
    assert.equal(error.itemId, 'u42');
    assert.deepEqual(error.issues.map((issue) => issue.path), ['attributes.state']);
    assert.match(error.message, /^test-provider users item "u42": attributes\.state: Invalid option/);
    return true;
  });

  const unknownField = loadProviderDefinition(
    testDefinition({ pagination: { style: 'none' } }, { mappings: { user: '{ "id": id, "attributes": { "mail": primaryEmail } }' } }),
  );
  await assert.rejects(mapUser(unknownField, { id: 'u43', primaryEmail: 'x@example.com' }), /users item "u43": attributes: Unrecognized key: "mail"/);

  // No id from the mapping: the item's own id still names it.
  const noId = loadProviderDefinition(testDefinition({ pagination: { style: 'none' } }, { mappings: { user: '{ "attributes": {} }' } }));
  await assert.rejects(mapUser(noId, { id: 'u44' }), /users item "u44": id: Required/);

  const runtime = loadProviderDefinition(testDefinition({ pagination: { style: 'none' } }, { mappings: { user: '$number(primaryEmail)' } }));
  await assert.rejects(mapUser(runtime, { id: 'u45', primaryEmail: 'x@example.com' }), /users item "u45": \(mapping\): JSONata evaluation failed/);
});
