import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { resealStoredSecrets } from '../../security/reseal-secrets.ts';
import { createAesGcmSecretBox, readSecretKeyFile } from '../../security/secret-box.ts';
import { openDatabase } from '../../store/database.ts';
import { migrateToLatest } from '../../store/migrator.ts';
import type { CliContext } from '../context.ts';
import { renderTable } from '../table.ts';

/** `roster secrets reseal`: the start-up re-seal pass on demand, against the database of the configuration. */
export function registerSecretsCommands(program: Command, context: CliContext): void {
  const secrets = program.command('secrets').description('Stored secrets and the key that encrypts them');
  secrets
    .command('reseal')
    .description('Re-seal under ROSTER_SECRET_KEY every stored secret sealed under a key of ROSTER_SECRET_KEY_PREVIOUS (applies pending migrations first, as start does); fails if some no key opens')
    .action(async () => {
      const config = loadConfig(context.env);
      // Never create a key here: a fresh key would open nothing, and the server would pick it up next start.
      const key = config.secretKey ?? readSecretKeyFile(config.dataDir);
      if (key === undefined) throw new Error(`no secret key: set ROSTER_SECRET_KEY (there is no ${config.dataDir}/secret-key)`);
      const box = createAesGcmSecretBox(key, config.previousSecretKeys);
      const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        await migrateToLatest(database);
        const report = await resealStoredSecrets(database, box, () => new Date());
        context.stdout(
          renderTable(
            ['COLUMN', 'CURRENT', 'RESEALED', 'CHANGED', 'UNREADABLE'],
            report.columns.map((c) => [`${c.table}.${c.column}`, c.current, c.resealed, c.changed, c.unreadable]),
          ),
        );
        for (const c of report.columns.filter((c) => c.unreadable > 0)) {
          const more = c.unreadable > c.unreadableKeys.length ? ` and ${c.unreadable - c.unreadableKeys.length} more` : '';
          context.stdout(`unreadable ${c.table}.${c.column}: ${c.unreadableKeys.join(', ')}${more}`);
        }
        if (report.unreadable > 0) {
          throw new Error(`${report.unreadable} stored secret(s) open with no configured key and were left as they are: put the key that sealed them in ROSTER_SECRET_KEY_PREVIOUS`);
        }
        const changed = report.columns.reduce((sum, c) => sum + c.changed, 0);
        context.stdout(
          changed === 0
            ? `Done: ${report.resealed} re-sealed; every stored secret is sealed under the current key.`
            : `Done: ${report.resealed} re-sealed; ${changed} changed while being re-sealed: run again to check them.`,
        );
      } finally {
        await database.close();
      }
    });
}
