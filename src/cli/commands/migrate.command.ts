import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { openDatabase } from '../../store/database.ts';
import { migrateToLatest } from '../../store/migrator.ts';
import type { CliContext } from '../context.ts';

export function registerMigrateCommand(program: Command, context: CliContext): void {
  program
    .command('migrate')
    .description('Apply pending database migrations (ROSTER_DATABASE_URL, or SQLite under ROSTER_DATA_DIR) and exit')
    .action(async () => {
      const config = loadConfig(context.env);
      const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        context.stdout(`Migrating ${database.description}`);
        const { results = [] } = await migrateToLatest(database);
        for (const result of results) context.stdout(`  ${result.status === 'Success' ? 'applied' : result.status.toLowerCase()}  ${result.migrationName}`);
        context.stdout(results.length === 0 ? 'Already up to date.' : `Done: ${results.length} migration(s) applied.`);
      } finally {
        await database.close();
      }
    });
}
