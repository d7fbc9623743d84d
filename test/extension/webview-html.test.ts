// The webview page: the exact CSP, a nonce on every script, only the bundle's own resource URIs, escaped text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csp, makeNonce, webviewHtml } from '../../extension/webview-html';

const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';
const SCRIPT = `${CSP_SOURCE}/ext/media/dist/webview.js`;
const STYLE = `${CSP_SOURCE}/ext/media/dist/webview.css`;

test('the CSP string, exactly', () => {
  assert.equal(
    csp('vscode-webview://abc', 'N0nce=='),
    "default-src 'none'; style-src vscode-webview://abc 'nonce-N0nce=='; img-src vscode-webview://abc data:; font-src vscode-webview://abc; script-src 'nonce-N0nce=='",
  );
});

test('every script carries the nonce; the only URLs are the bundle files; nothing inline runs', () => {
  const nonce = makeNonce();
  const html = webviewHtml({ cspSource: CSP_SOURCE, nonce, scriptUri: SCRIPT, styleUri: STYLE, title: 'run.pptrace.json', view: 'trace' });
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${csp(CSP_SOURCE, nonce).replace(/'/g, '&#39;')}">`));
  const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  assert.equal(scripts.length, 1);
  for (const s of scripts) assert.ok(s.includes(` nonce="${nonce}"`) && s.includes(` src="${SCRIPT}"`), s);
  assert.doesNotMatch(html, /<script\b[^>]*>[^<]+<\/script>/, 'no inline script');
  assert.doesNotMatch(html, /\son\w+=/i, 'no inline handlers');
  const urls = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(urls.sort(), [SCRIPT, STYLE].sort());
  const http = [...html.matchAll(/https?:\/\/[^\s"'<>]*/g)].map((m) => m[0]).filter((u) => !u.startsWith(CSP_SOURCE));
  assert.deepEqual(http, [], 'no remote resource');
  assert.match(html, /<main id="app" data-view="trace"><\/main>/);
  assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/);
  assert.notEqual(makeNonce(), nonce);
});

test('titles are escaped; without a bundle the page says how to build it and loads no script', () => {
  const html = webviewHtml({ cspSource: CSP_SOURCE, nonce: 'n', scriptUri: null, styleUri: null, title: '<img src=x onerror=alert(1)>.json', view: 'compare' });
  assert.ok(html.includes('<title>&lt;img src=x onerror=alert(1)&gt;.json</title>'));
  assert.doesNotMatch(html, /<script/);
  assert.doesNotMatch(html, /<img/);
  assert.match(html, /data-view="compare"><p>The pipeprof webview bundle \(media\/dist\/webview\.js\) is missing: build it with <code>npm run build<\/code>/);
});
