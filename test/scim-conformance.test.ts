import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { createOrganization } from './support/api.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';
import { createScimConnection } from './support/scim.ts';

/**
 * The third-party SCIM suites (Microsoft's and Okta's Postman collections, run by newman through the
 * shared runner) against a freshly started Roster: every assertion must pass. They live next to the
 * checkout, never in it; without them the test says so and skips.
 */
const runner = resolve(import.meta.dirname, '../../shared/conformance/scim/run.sh');
const SUITES = [
  { name: 'microsoft', assertions: 107 },
  { name: 'okta', assertions: 53 },
] as const;

interface NewmanReport {
  run: { stats: { assertions: { total: number; failed: number } }; failures: Array<{ error: { test?: string; message: string }; source?: { name?: string } }> };
}

function runSuite(baseUrl: string, token: string, suite: string, out: string): Promise<{ code: number; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [runner, baseUrl, token, suite], {
      cwd: resolve(import.meta.dirname, '..'),
      env: { ...process.env, OUT: out },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 1, output }));
  });
}

forEachEngine('SCIM conformance suites', (engine) => {
  const roster = useTestRoster(engine);

  for (const suite of SUITES) {
    test(`${suite.name}: every one of its ${suite.assertions} assertions passes`, { timeout: 120_000 }, async (t) => {
      if (!existsSync(runner)) {
        t.skip(`conformance suites absent (${runner}); not run`);
        return;
      }
      const organization = await createOrganization(roster(), `Conformance ${suite.name}`);
      // Microsoft's suite counts absolute totals, so each suite gets a connection of its own, empty.
      const scim = await createScimConnection(roster(), organization.id, `${suite.name} suite`);
      const out = mkdtempSync(join(tmpdir(), 'roster-scim-suite-'));
      try {
        const { code, output } = await runSuite(scim.baseUrl, scim.token, suite.name, out);
        const report = JSON.parse(readFileSync(join(out, `${suite.name}.json`), 'utf8')) as NewmanReport;
        const failures = report.run.failures.map((f) => `${f.source?.name ?? '?'}: ${f.error.test ?? ''} ${f.error.message}`);
        assert.deepEqual(failures, [], `failed assertions:\n${failures.join('\n')}\n${output.slice(-4000)}`);
        assert.equal(report.run.stats.assertions.total, suite.assertions, 'every assertion of the suite ran');
        assert.equal(report.run.stats.assertions.failed, 0);
        assert.equal(code, 0, output.slice(-2000));
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
});
