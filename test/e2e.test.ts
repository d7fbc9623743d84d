// The VS Code end-to-end suite (scripts/e2e-run.js) as part of `npm test`: run when code-server and Chromium are installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers';

const { missing } = require(path.join(ROOT, 'scripts', 'e2e-prereqs.js')) as { missing: () => string[] };
const lacking = missing();
const installed = lacking.length === 0;
const required = process.env.PIPEPROF_REQUIRE_E2E === '1';
const SKIP = `e2e skipped: ${lacking.join(', ')} not installed (run bash scripts/e2e-setup.sh)`;

if (!installed && !required) console.log(SKIP);

test('the extension passes its end-to-end suite in code-server', { skip: !installed && !required ? SKIP : false }, () => {
  assert.ok(installed, `${SKIP}; PIPEPROF_REQUIRE_E2E=1 makes this a failure`);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  // npm test has just built everything (tsc and the webview bundle): --no-build.
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'e2e-run.js'), '--no-build'], { cwd: ROOT, env, encoding: 'utf8', timeout: 8 * 60_000, maxBuffer: 64 << 20 });
  // Prefixed, so that its closing `N passed, N failed` line is not taken for the count of the whole `npm test`.
  for (const line of `${r.stdout}${r.stderr}`.trimEnd().split('\n')) console.log(`e2e | ${line}`);
  assert.equal(r.status, 0, `scripts/e2e-run.js exited with ${r.status ?? r.signal}; screenshots and logs are in .e2e/artifacts/`);
});
