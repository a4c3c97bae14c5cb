import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import type { CompiledQuery } from 'kysely';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { runCli } from '../src/cli/program.ts';
import { ConfigError, DEFAULT_WEBHOOK_CONFIG, loadConfig, type Config } from '../src/config.ts';
import { resealStoredSecrets } from '../src/security/reseal-secrets.ts';
import { createAesGcmSecretBox, SecretBoxError } from '../src/security/secret-box.ts';
import { openSqlite, type Database } from '../src/store/database.ts';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { createTestStorage, forEachEngine, newAdminKey, startTestRoster, useTestRoster, type TestRoster, type TestStorage } from './support/roster.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const keyC = randomBytes(32);
const webhooks = { ...DEFAULT_WEBHOOK_CONFIG, allowedHosts: ['127.0.0.1'], pollIntervalMs: 20 };

/** Everything a leak could show a key or a secret as. */
function spellings(key: Buffer): string[] {
  return [key.toString('base64'), key.toString('base64url'), key.toString('hex')];
}

describe('secret box', () => {
  test('seals under the current key as v1.<base64url> with a fresh IV each time, and opens it', () => {
    const box = createAesGcmSecretBox(keyA);
    const sealed = box.seal('whsec_abc');
    assert.match(sealed, /^v1\.[A-Za-z0-9_-]+$/);
    assert.notEqual(box.seal('whsec_abc'), sealed);
    assert.equal(box.open(sealed), 'whsec_abc');
    assert.ok(!sealed.includes('whsec_abc'));
  });

  test('opens a value written by an earlier release (v1, one key, no key id)', () => {
    // Sealed by hand the way v1 always was, so this stays true whatever the box does internally.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', keyA, iv);
    const ciphertext = Buffer.concat([cipher.update('legacy secret', 'utf8'), cipher.final()]);
    const legacy = `v1.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
    assert.equal(createAesGcmSecretBox(keyB, [keyA]).open(legacy), 'legacy secret');
    assert.equal(createAesGcmSecretBox(keyB, [keyA]).isCurrent(legacy), false);
    assert.equal(createAesGcmSecretBox(keyA).isCurrent(legacy), true);
  });

  test('opens under a previous key, and seals under the current one only', () => {
    const old = createAesGcmSecretBox(keyA).seal('credentials');
    const rotated = createAesGcmSecretBox(keyB, [keyC, keyA]);
    assert.equal(rotated.open(old), 'credentials');
    const resealed = rotated.seal('credentials');
    assert.equal(createAesGcmSecretBox(keyB).open(resealed), 'credentials');
    assert.throws(() => createAesGcmSecretBox(keyA).open(resealed), SecretBoxError);
  });

  test('isCurrent tells the current key’s values from a previous key’s, an unknown key’s and garbage, without throwing', () => {
    const rotated = createAesGcmSecretBox(keyB, [keyA]);
    assert.equal(rotated.isCurrent(rotated.seal('x')), true);
    assert.equal(rotated.isCurrent(createAesGcmSecretBox(keyA).seal('x')), false);
    assert.equal(rotated.isCurrent(createAesGcmSecretBox(keyC).seal('x')), false);
    for (const garbage of ['', 'plain text', 'v1.', 'v1.AAAA', 'v2.abc.def']) assert.equal(rotated.isCurrent(garbage), false);
  });

  test('a value no configured key opens is refused with a clear error holding neither keys, value nor plaintext', () => {
    const sealed = createAesGcmSecretBox(keyC).seal('the-plaintext-secret');
    const rotated = createAesGcmSecretBox(keyB, [keyA]);
    assert.throws(
      () => rotated.open(sealed),
      (error: unknown) => {
        assert.ok(error instanceof SecretBoxError);
        assert.match(error.message, /No configured secret key opens this sealed secret/);
        assert.match(error.message, /ROSTER_SECRET_KEY_PREVIOUS/);
        for (const secret of [sealed, sealed.slice(3, 20), 'the-plaintext-secret', ...spellings(keyA), ...spellings(keyB), ...spellings(keyC)]) {
          assert.ok(!error.message.includes(secret), 'the message leaks nothing');
        }
        return true;
      },
    );
    const tampered = createAesGcmSecretBox(keyB).seal('x').slice(0, -2) + 'AA';
    assert.throws(() => rotated.open(tampered), /No configured secret key opens/);
    assert.throws(() => rotated.open('not sealed'), /Not a sealed secret/);
  });

  test('every key must be 32 bytes', () => {
    assert.throws(() => createAesGcmSecretBox(keyA, [randomBytes(16)]), /must be 32 bytes, got 16/);
  });
});

describe('ROSTER_SECRET_KEY_PREVIOUS', () => {
  test('a comma-separated list of base64 keys; blanks and spaces around commas are ignored; unset is none', () => {
    const config = loadConfig({ ROSTER_SECRET_KEY_PREVIOUS: ` ${keyA.toString('base64')} ,${keyB.toString('base64')},` });
    assert.deepEqual(config.previousSecretKeys, [keyA, keyB]);
    assert.deepEqual(loadConfig({}).previousSecretKeys, []);
    assert.deepEqual(loadConfig({ ROSTER_SECRET_KEY_PREVIOUS: '' }).previousSecretKeys, []);
  });

  test('a bad key names the variable and its place in the list, and never echoes a value', () => {
    const short = randomBytes(16).toString('base64');
    for (const [value, problem] of [
      [`${keyA.toString('base64')},not*base64`, /ROSTER_SECRET_KEY_PREVIOUS: must be base64 .* \(item 2 of the list\)/],
      [short, /ROSTER_SECRET_KEY_PREVIOUS: must decode to exactly 32 bytes \(item 1 of the list\)/],
    ] as const) {
      assert.throws(
        () => loadConfig({ ROSTER_SECRET_KEY_PREVIOUS: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, problem);
          assert.ok(!error.message.includes(keyA.toString('base64')) && !error.message.includes('not*base64') && !error.message.includes(short));
          return true;
        },
      );
    }
  });
});

interface Seeded {
  organizationId: string;
  connectionId: string;
}

async function seedConnection(roster: TestRoster): Promise<Seeded> {
  const org = await createOrganization(roster);
  const connection = await createPushConnection(roster, org.id);
  return { organizationId: org.id, connectionId: connection.id };
}

async function insertOauthState(database: Database, seeded: Seeded, stateHash: string, sealed: string): Promise<void> {
  const now = new Date().toISOString();
  await database.db
    .insertInto('oauth_states')
    .values({ state_hash: stateHash, connection_id: seeded.connectionId, organization_id: seeded.organizationId, sealed, created_at: now, expires_at: now, used_at: null })
    .execute();
}

async function oauthStates(database: Database, prefix: string): Promise<Map<string, string>> {
  const rows = await database.db.selectFrom('oauth_states').select(['state_hash', 'sealed']).where('state_hash', 'like', `${prefix}%`).execute();
  return new Map(rows.map((row) => [row.state_hash, row.sealed]));
}

/** `target` with some methods replaced; the rest bound to it (Kysely's classes keep private fields). */
function bound<T extends object>(target: T, overrides: Record<string, unknown>): T {
  return new Proxy(target, {
    get(object, property) {
      if (typeof property === 'string' && property in overrides) return overrides[property];
      const value = Reflect.get(object, property, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

forEachEngine('re-seal pass', (engine) => {
  const roster = useTestRoster(engine);
  const rotated = createAesGcmSecretBox(keyB, [keyA]);
  const clock = () => new Date();

  test('re-seals in batches, leaves current values alone, and reports but never overwrites what no key opens', async () => {
    const seeded = await seedConnection(roster());
    const database = roster().database;
    for (let i = 0; i < 5; i++) await insertOauthState(database, seeded, `batch-old-${i}`, createAesGcmSecretBox(keyA).seal(`verifier ${i}`));
    await insertOauthState(database, seeded, 'batch-current', rotated.seal('verifier current'));
    await insertOauthState(database, seeded, 'batch-lost', createAesGcmSecretBox(keyC).seal('verifier lost'));
    const before = await oauthStates(database, 'batch-');

    const report = await resealStoredSecrets(database, rotated, clock, { batchSize: 2 });
    const states = report.columns.find((c) => c.table === 'oauth_states')!;
    assert.deepEqual(
      { current: states.current, resealed: states.resealed, changed: states.changed, unreadable: states.unreadable, keys: states.unreadableKeys },
      { current: 1, resealed: 5, changed: 0, unreadable: 1, keys: ['batch-lost'] },
    );
    assert.equal(report.unreadable, 1);
    const after = await oauthStates(database, 'batch-');
    for (let i = 0; i < 5; i++) assert.equal(createAesGcmSecretBox(keyB).open(after.get(`batch-old-${i}`)!), `verifier ${i}`);
    assert.equal(after.get('batch-current'), before.get('batch-current'));
    assert.equal(after.get('batch-lost'), before.get('batch-lost'), 'an unreadable value is never overwritten');

    const again = await resealStoredSecrets(database, rotated, clock);
    assert.equal(again.resealed, 0, 'a second pass finds nothing to do');
    await database.db.deleteFrom('oauth_states').where('state_hash', 'like', 'batch-%').execute();
  });

  test('a row rewritten between the read and the update keeps the newer value', async () => {
    const seeded = await seedConnection(roster());
    const database = roster().database;
    await insertOauthState(database, seeded, 'race-0', createAesGcmSecretBox(keyA).seal('read by the pass'));
    const newer = rotated.seal('written meanwhile');
    let raced = false;
    // Just before the pass's update reaches the database, another writer (a token refresh, say) replaces the value.
    const executor = database.db.getExecutor();
    const racingExecutor = bound(executor, {
      executeQuery: async (query: CompiledQuery, ...rest: unknown[]) => {
        if (!raced && /^update/i.test(query.sql) && query.parameters.includes('race-0')) {
          raced = true;
          await database.db.updateTable('oauth_states').set({ sealed: newer }).where('state_hash', '=', 'race-0').execute();
        }
        return (executor.executeQuery as (...args: unknown[]) => unknown)(query, ...rest);
      },
    });
    const racingDb = bound(database.db, { getExecutor: () => racingExecutor });
    const report = await resealStoredSecrets({ ...database, db: racingDb }, rotated, clock);
    assert.ok(raced);
    const states = report.columns.find((c) => c.table === 'oauth_states')!;
    assert.equal(states.resealed, 0);
    assert.equal(states.current, 1, 'the newer value is judged as it is now: under the current key');
    assert.equal((await oauthStates(database, 'race-')).get('race-0'), newer);
  });
});

/** A JSON logger whose lines the test reads. */
function capturingLogger(): { logger: FastifyBaseLogger; lines: any[] } {
  const lines: any[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }) as unknown as FastifyBaseLogger;
  return { logger, lines };
}

interface StoredSecrets {
  secret: string;
  previousSecret: string;
  connectionSecret: string;
  oauthState: string;
  endpointUpdatedAt: string;
}

forEachEngine('rotation of ROSTER_SECRET_KEY through restarts', (engine) => {
  let storage: TestStorage;
  const receiver = new WebhookReceiver();
  let endpointId: string;
  let seeded: Seeded;
  let oldSecret: string;
  let newSecret: string;
  const credentials = JSON.stringify({ refresh_token: 'rt-do-not-log-me' });
  const pkce = JSON.stringify({ verifier: 'pkce-do-not-log-me' });
  let stored: StoredSecrets;
  // The first start creates it; later starts find keys and keep them.
  const adminKey = newAdminKey();

  before(async () => {
    storage = await createTestStorage(engine);
    await receiver.start();
  });
  after(async () => {
    await receiver.stop();
    await storage.destroy();
  });

  async function restart(config: Partial<Config>): Promise<{ roster: TestRoster; lines: any[] }> {
    const { logger, lines } = capturingLogger();
    return { roster: await startTestRoster(engine, { storage, logger, config: { apiKey: adminKey, webhooks, ...config } }), lines };
  }

  async function readStored(roster: TestRoster): Promise<StoredSecrets> {
    const db = roster.database.db;
    const endpoint = await db.selectFrom('webhook_endpoints').select(['secret', 'previous_secret', 'updated_at']).where('id', '=', endpointId).executeTakeFirstOrThrow();
    const connection = await db.selectFrom('connection_secrets').select('sealed').where('connection_id', '=', seeded.connectionId).executeTakeFirstOrThrow();
    const state = await db.selectFrom('oauth_states').select('sealed').where('state_hash', '=', 'pending-consent').executeTakeFirstOrThrow();
    return { secret: endpoint.secret, previousSecret: endpoint.previous_secret!, connectionSecret: connection.sealed, oauthState: state.sealed, endpointUpdatedAt: endpoint.updated_at };
  }

  /** The test delivery is signed with the endpoint's current and previous secrets: both must still be the ones handed out. */
  async function assertSignsWithTheSameSecrets(roster: TestRoster): Promise<void> {
    const sent = expectStatus(await roster.request('POST', `/v1/webhook-endpoints/${endpointId}/test`), 200);
    assert.equal(sent.ok, true, sent.error ?? '');
    const message = receiver.messages.find((m) => m.webhookId === sent.webhook_id)!;
    assert.doesNotThrow(() => new Webhook(newSecret).verify(message.body, message.headers));
    assert.doesNotThrow(() => new Webhook(oldSecret).verify(message.body, message.headers));
  }

  function assertNothingLeaked(lines: any[]): void {
    const text = JSON.stringify(lines);
    for (const secret of [oldSecret, newSecret, 'rt-do-not-log-me', 'pkce-do-not-log-me', ...[keyA, keyB, keyC].flatMap(spellings)]) {
      assert.ok(!text.includes(secret), 'the log holds no secret or key');
    }
  }

  test('under key A: a webhook endpoint with a rotated secret, connection credentials and a pending OAuth consent are stored', async () => {
    const { roster } = await restart({ secretKey: keyA });
    try {
      seeded = await seedConnection(roster);
      const created = expectStatus(
        await roster.request('POST', '/v1/webhook-endpoints', { url: receiver.url, organization_id: seeded.organizationId, event_types: ['user.created'] }),
        201,
      );
      endpointId = created.id;
      oldSecret = created.secret;
      newSecret = expectStatus(await roster.request('POST', `/v1/webhook-endpoints/${endpointId}/rotate-secret`, { overlap_seconds: 3600 }), 200).secret;
      receiver.secrets.push(oldSecret, newSecret);
      const boxA = createAesGcmSecretBox(keyA);
      await roster.database.db
        .insertInto('connection_secrets')
        .values({ connection_id: seeded.connectionId, organization_id: seeded.organizationId, sealed: boxA.seal(credentials), updated_at: new Date().toISOString() })
        .execute();
      await insertOauthState(roster.database, seeded, 'pending-consent', boxA.seal(pkce));
      stored = await readStored(roster);
      assert.equal(boxA.open(stored.secret), newSecret);
      await assertSignsWithTheSameSecrets(roster);
    } finally {
      await roster.close();
    }
  });

  test('restarted with key B and A as previous: start-up re-seals every stored secret under B, logging counts only', async () => {
    const { roster, lines } = await restart({ secretKey: keyB, previousSecretKeys: [keyA] });
    try {
      const now = await readStored(roster);
      const boxB = createAesGcmSecretBox(keyB);
      assert.equal(boxB.open(now.secret), newSecret);
      assert.equal(boxB.open(now.previousSecret), oldSecret);
      assert.equal(boxB.open(now.connectionSecret), credentials);
      assert.equal(boxB.open(now.oauthState), pkce);
      assert.equal(now.endpointUpdatedAt, stored.endpointUpdatedAt, 're-encryption is not a change of the endpoint');
      const done = lines.find((line) => line.msg?.startsWith('every stored secret is sealed under the current key'));
      assert.ok(done, 'the log says the old key is no longer needed');
      assert.equal(done.resealed, 4);
      for (const column of ['webhook_endpoints.secret', 'webhook_endpoints.previous_secret', 'connection_secrets.sealed', 'oauth_states.sealed']) {
        assert.deepEqual(done.columns[column], { current: 0, resealed: 1, changed: 0, unreadable: 0 }, column);
      }
      assertNothingLeaked(lines);
      await assertSignsWithTheSameSecrets(roster);
      stored = now;
    } finally {
      await roster.close();
    }
  });

  test('restarted with key B alone: everything opens, nothing is rewritten', async () => {
    const { roster, lines } = await restart({ secretKey: keyB });
    try {
      assert.deepEqual(await readStored(roster), stored);
      assert.equal(lines.find((line) => line.msg?.startsWith('every stored secret is sealed under the current key'))?.resealed, 0);
      await assertSignsWithTheSameSecrets(roster);
    } finally {
      await roster.close();
    }
  });

  test('restarted with an unrelated key C: start-up succeeds, reports the unreadable values by row and overwrites none', async () => {
    const { roster, lines } = await restart({ secretKey: keyC });
    try {
      assert.deepEqual(await readStored(roster), stored);
      const unreadable = lines.filter((line) => line.level === 50 && line.msg?.startsWith('stored secrets that no configured key opens'));
      assert.deepEqual(
        unreadable.map((line) => [`${line.table}.${line.column}`, line.unreadable, line.keys]),
        [
          ['webhook_endpoints.secret', 1, [endpointId]],
          ['webhook_endpoints.previous_secret', 1, [endpointId]],
          ['connection_secrets.sealed', 1, [seeded.connectionId]],
          ['oauth_states.sealed', 1, ['pending-consent']],
        ],
      );
      assert.ok(!lines.some((line) => line.msg?.startsWith('every stored secret')), 'it does not claim the old key can go');
      assertNothingLeaked(lines);
      expectStatus(await roster.request('GET', `/v1/webhook-endpoints/${endpointId}`), 200);
    } finally {
      await roster.close();
    }
  });
});

describe('roster secrets reseal', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-reseal-'));
  const storage: TestStorage = { engine: 'sqlite', open: () => openSqlite(join(dataDir, 'roster.db')), destroy: async () => rmSync(dataDir, { recursive: true, force: true }) };
  let endpointId: string;
  let secret: string;
  after(() => storage.destroy());

  async function reseal(env: NodeJS.ProcessEnv): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['node', 'roster', 'secrets', 'reseal'], { env: { ROSTER_DATA_DIR: dataDir, ...env }, stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
    return { code, out, err };
  }

  async function storedSecret(): Promise<string> {
    const database = storage.open();
    try {
      return (await database.db.selectFrom('webhook_endpoints').select('secret').where('id', '=', endpointId).executeTakeFirstOrThrow()).secret;
    } finally {
      await database.close();
    }
  }

  before(async () => {
    const roster = await startTestRoster('sqlite', { storage, config: { secretKey: keyA, webhooks } });
    try {
      const created = expectStatus(await roster.request('POST', '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/hook' }), 201);
      endpointId = created.id;
      secret = created.secret;
    } finally {
      await roster.close();
    }
  });

  test('without a key it refuses, and creates none', async () => {
    const { code, err } = await reseal({});
    assert.equal(code, 1);
    assert.match(err.join('\n'), /no secret key: set ROSTER_SECRET_KEY/);
    assert.equal(existsSync(join(dataDir, 'secret-key')), false);
  });

  test('with a key that opens nothing it lists the rows, fails, and leaves them as they are', async () => {
    const before = await storedSecret();
    const { code, out, err } = await reseal({ ROSTER_SECRET_KEY: keyC.toString('base64') });
    assert.equal(code, 1);
    assert.match(out.join('\n'), new RegExp(`unreadable webhook_endpoints\\.secret: ${endpointId}`));
    assert.match(err.join('\n'), /1 stored secret\(s\) open with no configured key/);
    assert.equal(await storedSecret(), before);
  });

  test('with the new key and the old one as previous it re-seals, and says when nothing is left under the old key', async () => {
    const env = { ROSTER_SECRET_KEY: keyB.toString('base64'), ROSTER_SECRET_KEY_PREVIOUS: keyA.toString('base64') };
    const first = await reseal(env);
    assert.equal(first.code, 0, first.err.join('\n'));
    assert.match(first.out.join('\n'), /webhook_endpoints\.secret\s+0\s+1\s+0\s+0/);
    assert.match(first.out.at(-1)!, /Done: 1 re-sealed; every stored secret is sealed under the current key/);
    assert.equal(createAesGcmSecretBox(keyB).open(await storedSecret()), secret);
    const second = await reseal(env);
    assert.match(second.out.at(-1)!, /Done: 0 re-sealed/);
    assert.ok(!JSON.stringify([first, second]).includes(secret));
  });
});
