// Static checks of the webview sources: text only through textContent, no eval, no inline styles, no deprecated toolkit.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './harness';

const SRC = path.join(ROOT, 'media', 'src');
const sources = fs.readdirSync(SRC).filter((f) => f.endsWith('.ts')).map((f) => ({ file: `media/src/${f}`, text: fs.readFileSync(path.join(SRC, f), 'utf8') }));

const RULES: [RegExp, string][] = [
  [/\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser/, 'builds DOM from a string: use h()/textContent (media/src/dom.ts)'],
  [/\beval\s*\(|new Function\b|setTimeout\(\s*['"`]/, 'evaluates a string: the CSP has no unsafe-eval'],
  [/setAttribute\(\s*['"]style['"]|\.style\.cssText|\.setAttribute\(\s*['"]on/, 'sets an inline style or handler attribute: the CSP refuses them; use classes and addEventListener'],
  [/webview-ui-toolkit/, 'uses @vscode/webview-ui-toolkit (archived January 2025): use @vscode-elements/elements'],
  [/\bfetch\(|XMLHttpRequest|WebSocket|importScripts/, 'loads from the network: the webview gets everything by message'],
];

test('webview sources put no string into the DOM as markup and need nothing the CSP refuses', () => {
  assert.ok(sources.length >= 10, `found ${sources.length} sources in media/src`);
  const problems: string[] = [];
  for (const { file, text } of sources)
    text.split('\n').forEach((line, i) => {
      for (const [re, why] of RULES) if (re.test(line)) problems.push(`${file}:${i + 1}: ${why}\n    ${line.trim()}`);
    });
  assert.deepEqual(problems, []);
});

test('every webview source opens with a one-line purpose comment', () => {
  for (const { file, text } of sources) assert.match(text.split('\n')[0], /^\/\/ \S.{10,}/, file);
});

test('the built bundle (when built) holds chart.js and @vscode-elements, not the archived toolkit', { skip: !fs.existsSync(path.join(ROOT, 'media', 'dist', 'webview.js')) && 'media/dist/webview.js not built' }, () => {
  const js = fs.readFileSync(path.join(ROOT, 'media', 'dist', 'webview.js'), 'utf8');
  assert.match(js, /vscode-button/);
  assert.match(js, /vsc-tabs-select/);
  assert.match(js, /chart\.js|Chart\.js|BarController|"bar"/);
  assert.doesNotMatch(js, /webview-ui-toolkit|@microsoft\/fast/);
  assert.doesNotMatch(js, /sourceMappingURL/, 'no source map in the shipped bundle');
  assert.ok(fs.existsSync(path.join(ROOT, 'media', 'dist', 'webview.css')));
});
