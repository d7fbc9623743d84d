#!/usr/bin/env node
// What the VS Code end-to-end suite needs that is not installed; run directly (npm's posttest), it says the suite was skipped and how to include it.
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** The missing prerequisites of the e2e suite (what scripts/e2e-setup.sh installs), as names; empty when it can run. */
function missing(root = ROOT) {
  const need = {
    '.e2e/code-server': path.join(root, '.e2e', 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    '.e2e/node (Node 24)': path.join(root, '.e2e', 'node', 'bin', 'node'),
    [process.env.PIPEPROF_E2E_CHROMIUM || '/usr/bin/chromium']: process.env.PIPEPROF_E2E_CHROMIUM || '/usr/bin/chromium',
  };
  return Object.entries(need).filter(([, f]) => !fs.existsSync(f)).map(([name]) => name);
}

module.exports = { missing };

if (require.main === module) {
  const m = missing();
  if (m.length)
    console.log(`npm test: the VS Code end-to-end suite was skipped (missing: ${m.join(', ')}); run bash scripts/e2e-setup.sh once (4–6 minutes) to include it`);
}
