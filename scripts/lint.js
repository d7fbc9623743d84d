#!/usr/bin/env node
// Project conventions from DESIGN.md, checked over the sources: purpose comments, layering, wasm-hostile matMul flags.
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIRS = ['core', 'cli', 'extension', 'media', 'test', 'bench', 'scripts'];
/** core/ parts that must also bundle for the webview: no Node built-ins. */
const BROWSER_SAFE = ['core/analysis', 'core/plan', 'core/schedule', 'core/simulate', 'core/trace'];

function files(dir) {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs, { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : files(rel);
    return /\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

function lint() {
  const problems = [];
  for (const f of DIRS.flatMap(files)) {
    const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
    const lines = text.split('\n');
    const first = lines[0].startsWith('#!') ? lines[1] : lines[0];
    if (!/^\/\/ \S.{10,}/.test(first ?? '')) problems.push(`${f}:1: a file opens with a one-line purpose comment (// what this file is for)`);
    if (f.startsWith('core/') && /from ['"]vscode['"]|require\(['"]vscode['"]\)/.test(text)) problems.push(`${f}: core/ must not import vscode; move the code to extension/`);
    if (BROWSER_SAFE.some((d) => f.startsWith(d + '/')) && /from ['"](node:)?(fs|path|os|child_process|worker_threads)['"]/.test(text))
      problems.push(`${f}: ${f.split('/').slice(0, 2).join('/')} also bundles for the webview; keep Node APIs out (file I/O goes in core/io or cli/)`);
    lines.forEach((l, i) => {
      if (/transpose[AB]\s*[:=]\s*true|matMul\([^)]*,\s*(true|false)\s*,\s*true/.test(l) && !f.startsWith('scripts/'))
        problems.push(`${f}:${i + 1}: matMul with transposeA/transposeB is 12–20x slower on wasm; use tf.transpose explicitly`);
    });
  }
  return problems;
}

module.exports = { lint };
if (require.main === module) {
  const problems = lint();
  for (const p of problems) console.error(p);
  console.log(problems.length ? `${problems.length} problem(s)` : 'lint: clean');
  process.exitCode = problems.length ? 1 : 0;
}
