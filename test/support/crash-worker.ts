/**
 * Applies a synthetic directory to an existing store the way a connector does, page by page, each page
 * in its own reconciliation transaction. The crash-safety test runs this in a child process and kills
 * it part-way through.
 *
 *   node --import tsx test/support/crash-worker.ts --engine sqlite|postgres --location <file|schema>
 *     --connection <id> --users N --memberships N --page-size N [--postgres-url URL]
 *
 * Prints one line per committed page (`committed <page> <records>`) and `done` at the end.
 */
import { parseArgs } from 'node:util';
import { toIncoming } from '../../src/reconcile/incoming.ts';
import { Reconciler } from '../../src/reconcile/reconciler.ts';
import { openPostgres, openSqlite } from '../../src/store/database.ts';
import { DEFAULT_POSTGRES_URL } from '../../bench/bench-store.ts';
import { SyntheticDirectory } from '../../bench/synthetic-directory.ts';

const { values } = parseArgs({
  options: {
    engine: { type: 'string' },
    location: { type: 'string' },
    connection: { type: 'string' },
    users: { type: 'string' },
    memberships: { type: 'string' },
    'page-size': { type: 'string' },
    'postgres-url': { type: 'string', default: DEFAULT_POSTGRES_URL },
  },
});

const { engine, location, connection } = values;
if (!location || !connection || (engine !== 'sqlite' && engine !== 'postgres')) {
  throw new Error(
    'Usage: crash-worker --engine sqlite|postgres --location <file|schema> --connection <id> --users N --memberships N --page-size N',
  );
}
const users = Number(values.users);
const memberships = Number(values.memberships);
const pageSize = Number(values['page-size']);

const database =
  engine === 'sqlite' ? openSqlite(location) : openPostgres({ url: values['postgres-url']!, schema: location, poolSize: 2 });
try {
  const reconciler = new Reconciler({ database });
  const directory = new SyntheticDirectory({ users, memberships });
  let page = 0;
  for (const records of directory.pages(pageSize)) {
    await reconciler.apply(connection, records.map(toIncoming));
    page += 1;
    process.stdout.write(`committed ${page} ${records.length}\n`);
  }
  process.stdout.write('done\n');
} finally {
  await database.close();
}
