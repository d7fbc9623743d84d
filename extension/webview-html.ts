// The webview page: a strict CSP with a per-load nonce, the bundle's script and style from the webview's own resource URIs, nothing remote.
import { randomBytes } from 'node:crypto';

export interface WebviewHtmlOptions {
  /** `webview.cspSource`: the origin of the webview's local resources. */
  cspSource: string;
  nonce: string;
  /** `asWebviewUri` of media/dist/webview.js and media/dist/webview.css, as strings; null when the bundle is missing. */
  scriptUri: string | null;
  styleUri: string | null;
  title: string;
  /** 'trace' (the custom editor) or 'compare' (two traces side by side): the page's `data-view`. */
  view: 'trace' | 'compare';
}

/** A fresh nonce: 16 random bytes, base64 (a CSP nonce-source). */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

/** The page's Content-Security-Policy, exactly. */
export function csp(cspSource: string, nonce: string): string {
  return `default-src 'none'; style-src ${cspSource} 'nonce-${nonce}'; img-src ${cspSource} data:; font-src ${cspSource}; script-src 'nonce-${nonce}'`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The whole page. The client (media/dist/webview.js) mounts on `#app`; without a bundle the page says how to build it. */
export function webviewHtml(o: WebviewHtmlOptions): string {
  const attr = (s: string) => escapeHtml(s);
  const head = [
    '<meta charset="UTF-8">',
    `<meta http-equiv="Content-Security-Policy" content="${attr(csp(o.cspSource, o.nonce))}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
    `<title>${escapeHtml(o.title)}</title>`,
    ...(o.styleUri ? [`<link rel="stylesheet" nonce="${attr(o.nonce)}" href="${attr(o.styleUri)}">`] : []),
  ];
  const body = o.scriptUri
    ? [`<main id="app" data-view="${o.view}"></main>`, `<script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script>`]
    : [`<main id="app" data-view="${o.view}"><p>The pipeprof webview bundle (media/dist/webview.js) is missing: build it with <code>npm run build</code>, then reopen this file.</p></main>`];
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n${head.map((l) => `  ${l}`).join('\n')}\n</head>\n<body>\n${body.map((l) => `  ${l}`).join('\n')}\n</body>\n</html>\n`;
}
