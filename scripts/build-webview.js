#!/usr/bin/env node
// Builds the webview bundle: type-checks media/ (media/tsconfig.json), then esbuild → media/dist/webview.js and webview.css.
// Usage: node scripts/build-webview.js [--no-check] [--dev]   (--dev: unminified, inline source map)
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const MEDIA = path.join(ROOT, 'media');
const OUT = path.join(MEDIA, 'dist');

/** Type-checks the webview sources with their own tsconfig (DOM lib, no Node types); returns the diagnostics as lines. */
function typecheck() {
  const ts = require('typescript');
  const configFile = path.join(MEDIA, 'tsconfig.json');
  const read = ts.readConfigFile(configFile, ts.sys.readFile);
  if (read.error) return [ts.flattenDiagnosticMessageText(read.error.messageText, '\n')];
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, MEDIA);
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const diags = [...parsed.errors, ...ts.getPreEmitDiagnostics(program)];
  return diags.map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return msg;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${path.relative(ROOT, d.file.fileName)}:${line + 1}:${character + 1}: ${msg}`;
  });
}

async function build({ check = true, dev = false } = {}) {
  const started = Date.now();
  if (check) {
    const problems = typecheck();
    if (problems.length) {
      for (const p of problems) console.error(p);
      throw new Error(`media/: ${problems.length} type error(s); fix them, or build with --no-check to bundle anyway`);
    }
  }
  const esbuild = require('esbuild');
  fs.mkdirSync(OUT, { recursive: true });
  const common = { bundle: true, minify: !dev, sourcemap: dev ? 'inline' : false, logLevel: 'warning', legalComments: 'none' };
  await esbuild.build({
    ...common,
    entryPoints: [path.join(MEDIA, 'src', 'main.ts')],
    outfile: path.join(OUT, 'webview.js'),
    format: 'iife',
    platform: 'browser',
    target: ['chrome114'],
    tsconfig: path.join(MEDIA, 'tsconfig.json'),
    define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
  });
  await esbuild.build({ ...common, entryPoints: [path.join(MEDIA, 'webview.css')], outfile: path.join(OUT, 'webview.css') });
  const size = (f) => `${(fs.statSync(path.join(OUT, f)).size / 1024).toFixed(0)} KiB`;
  console.log(`webview: media/dist/webview.js (${size('webview.js')}), media/dist/webview.css (${size('webview.css')}) in ${Date.now() - started} ms`);
}

module.exports = { build, typecheck };
if (require.main === module) {
  const args = process.argv.slice(2);
  build({ check: !args.includes('--no-check'), dev: args.includes('--dev') }).catch((e) => {
    console.error(e.message);
    process.exitCode = 1;
  });
}
