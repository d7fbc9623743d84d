// Browser harness for the webview: run views built as the host builds them, a static page under the host's strict CSP, Chromium.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildReport } from '../../core/analysis/report';
import type { LayerSummary } from '../../core/model/types';
import type { Plan } from '../../core/plan/types';
import type { CostModel } from '../../core/simulate/cost-model';
import { simulate } from '../../core/simulate/simulate';
import type { OpTable, Timeline } from '../../core/trace/timeline';
import type { RecommendationView, RunView, ToWebview } from '../../media/src/protocol';
import { escapeHtml } from '../../media/src/text';

/** Root of the repository (this file runs from dist/test/media/). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const BUNDLE_DIR = path.join(ROOT, 'media', 'dist');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A RunView from a Timeline, as the extension host builds it: one row per stage × replica, columnar ops in ms from the run start. */
export function runViewFromTimeline(t: Timeline, title: string): RunView {
  const o = t.ops;
  let replicas = Math.max(1, t.plan?.replicas ?? 1);
  for (let i = 0; i < o.length; i++) replicas = Math.max(replicas, o.replica[i] + 1);
  const rows: string[] = [];
  for (let s = 0; s < t.stages; s++)
    for (let r = 0; r < replicas; r++) rows.push(replicas > 1 ? `stage ${s} · replica ${r}` : `stage ${s}${t.plan ? ` · ${t.plan.balance[s]} layers` : ''}`);
  const n = o.length;
  const ops = { kind: new Uint8Array(n), row: new Int32Array(n), start: new Float64Array(n), dur: new Float64Array(n), microbatch: new Int32Array(n), step: new Int32Array(n), bytes: new Float64Array(n) };
  let spanUs = 0;
  for (let i = 0; i < n; i++) {
    ops.kind[i] = o.kind[i];
    ops.row[i] = o.stage[i] * replicas + o.replica[i];
    ops.start[i] = o.start[i] / 1000;
    ops.dur[i] = o.dur[i] / 1000;
    ops.microbatch[i] = o.microbatch[i];
    ops.step[i] = o.step[i];
    ops.bytes[i] = o.bytes[i];
    spanUs = Math.max(spanUs, o.start[i] + o.dur[i]);
  }
  for (const s of t.steps) spanUs = Math.max(spanUs, s.endUs);
  return {
    source: t.source,
    title,
    rows,
    ops,
    spanMs: spanUs / 1000,
    steps: t.steps.map((s) => ({ step: s.step, start: s.startUs / 1000, end: s.endUs / 1000, loss: Number.isFinite(s.loss) ? s.loss : null, warmup: s.warmup })),
    report: buildReport(t),
    sampled: false,
  };
}

/** A RunView as plain JSON (typed arrays as arrays), the shape that survives JSON and structured clone alike. */
export function plainRunView(v: RunView): RunView {
  const ops = Object.fromEntries(Object.entries(v.ops).map(([k, a]) => [k, Array.from(a as ArrayLike<number>)])) as RunView['ops'];
  return { ...v, ops };
}

/** A hand-made cost model: `layers` equal layers (the last one heavier), a fast link, so the simulator yields a plausible pipeline. */
function syntheticCosts(layers: number): { costs: CostModel; summaries: LayerSummary[] } {
  const costs: CostModel = {
    layers: Array.from({ length: layers }, (_, l) => {
      const k = l === layers - 1 ? 2.2 : 1;
      return {
        name: `dense_${l}`,
        points: [1, 8, 64].map((size) => ({ size, forwardMs: k * (0.05 + 0.02 * size), backwardMs: k * (0.1 + 0.04 * size) })),
        savedBytesPerSample: 4096, paramBytes: 4 << 20, activationBytesPerSample: 4096, flops: 2e6,
      };
    }),
    opOverheadMs: 0.02,
    link: { latencyMs: 0.05, bytesPerMs: 2e6 },
    opt: { fixedMs: 0.2, msPerParamByte: 1e-8 },
    computeScale: 1,
    memory: { baseBytes: 1 << 20, stateBytesPerParamByte: 2 },
  };
  const summaries: LayerSummary[] = costs.layers.map((l) => ({ name: l.name, kind: 'dense', params: l.paramBytes / 4, flops: l.flops, activationBytes: l.activationBytesPerSample }));
  return { costs, summaries };
}

function sliceTable(o: OpTable, n: number): OpTable {
  const cut = <T extends { subarray(a: number, b: number): T }>(a: T) => a.subarray(0, n);
  return {
    length: n, kind: cut(o.kind), stage: cut(o.stage), replica: cut(o.replica), lane: cut(o.lane), microbatch: cut(o.microbatch), chunk: cut(o.chunk),
    step: cut(o.step), peer: cut(o.peer), start: cut(o.start), dur: cut(o.dur), bytes: cut(o.bytes),
  };
}

/**
 * A simulated run of exactly `events` ops (the last step cut short when needed): `stages` stages of an 8-layer model,
 * 1f1b with `microbatches` micro-batches, as many steps as it takes; a decreasing synthetic loss per step.
 */
export function syntheticTimeline(opts: { events: number; stages?: number; microbatches?: number; schedule?: Plan['schedule']; source?: Timeline['source'] }): Timeline {
  const S = opts.stages ?? 4;
  const M = opts.microbatches ?? 16;
  const L = 8;
  const { costs, summaries } = syntheticCosts(L);
  const balance = Array.from({ length: S }, (_, s) => Math.floor(L / S) + (s < L % S ? 1 : 0));
  const plan: Plan = { balance, microbatches: M, schedule: opts.schedule ?? '1f1b', recompute: 'never', replicas: 1 };
  const batch = M * 4;
  const one = simulate({ plan, batch, costs, layers: summaries, steps: 1 });
  const steps = Math.max(1, Math.ceil(opts.events / Math.max(1, one.ops.length)));
  const t = simulate({ plan, batch, costs, layers: summaries, steps });
  const n = Math.min(opts.events, t.ops.length);
  const kept = t.steps.filter((s) => s.startUs <= t.ops.start[n - 1]);
  return {
    ...t,
    source: opts.source ?? 'measured',
    ops: sliceTable(t.ops, n),
    steps: kept.map((s, i) => ({ ...s, loss: 9 * Math.exp(-i / 40) + 0.2 * Math.sin(i), warmup: i < 2 })),
  };
}

/** A synthetic run view of `events` ops (see syntheticTimeline). */
export function syntheticRun(events: number, opts: { stages?: number; microbatches?: number; title?: string } = {}): RunView {
  return runViewFromTimeline(syntheticTimeline({ events, ...opts }), opts.title ?? `synthetic run · ${events.toLocaleString('en-US')} ops`);
}

/** Recommendations as the host sends them (made-up numbers: the page only draws them). */
export function sampleRecommendations(layout = '2|2|2|2'): RecommendationView[] {
  return [1, 2, 3].map((rank) => ({
    rank, layout, balance: [2, 2, 2, 2], microbatches: 8 * rank, schedule: '1f1b', recompute: rank === 3 ? 'except-last' : 'never',
    predictedStepTimeMs: 40 + 5 * rank, speedup: 1.5 - 0.1 * rank, peakMemoryBytes: (300 + 20 * rank) * 2 ** 20,
  }));
}

export interface HarnessPage {
  /** Sent as `load` once the webview posts `ready`. */
  load: ToWebview;
  /** Answers to `preview` requests, by rank (plan `rank`'s predicted run). */
  previews?: Record<number, RunView>;
  theme?: 'dark' | 'light';
  title?: string;
  /** What getState() returns at first (a webview shown again after its tab was hidden). */
  state?: unknown;
}

const THEMES: Record<'dark' | 'light', Record<string, string>> = {
  dark: {
    'editor-background': '#1e1e1e', foreground: '#cccccc', descriptionForeground: '#9d9d9d', 'font-family': 'system-ui, "DejaVu Sans", sans-serif', 'font-size': '13px',
    'charts-blue': '#3794ff', 'charts-green': '#89d185', 'charts-yellow': '#cca700', 'charts-orange': '#d18616', 'charts-red': '#f14c4c', 'charts-purple': '#b180d7',
    'charts-foreground': '#cccccc', 'charts-lines': 'rgba(204,204,204,0.5)', 'terminal-ansiCyan': '#11a8cd', focusBorder: '#007fd4', 'panel-border': '#2b2b2b',
    'button-background': '#0e639c', 'button-foreground': '#ffffff', 'button-hoverBackground': '#1177bb', 'button-secondaryBackground': '#3a3d41', 'button-secondaryForeground': '#cccccc',
    'editorHoverWidget-background': '#252526', 'editorHoverWidget-border': '#454545', 'panel-background': '#1e1e1e', 'settings-headerBorder': '#2b2b2b',
    'panelTitle-activeForeground': '#e7e7e7', 'panelTitle-inactiveForeground': '#e7e7e799', 'panelTitle-activeBorder': '#e7e7e7', 'button-secondaryHoverBackground': '#45494e',
  },
  light: {
    'editor-background': '#ffffff', foreground: '#3b3b3b', descriptionForeground: '#717171', 'font-family': 'system-ui, "DejaVu Sans", sans-serif', 'font-size': '13px',
    'charts-blue': '#1a85ff', 'charts-green': '#388a34', 'charts-yellow': '#bf8803', 'charts-orange': '#d18616', 'charts-red': '#e51400', 'charts-purple': '#652d90',
    'charts-foreground': '#616161', 'charts-lines': 'rgba(97,97,97,0.5)', 'terminal-ansiCyan': '#0598bc', focusBorder: '#0090f1', 'panel-border': '#e5e5e5',
    'button-background': '#007acc', 'button-foreground': '#ffffff', 'button-hoverBackground': '#0062a3', 'button-secondaryBackground': '#e5e5e5', 'button-secondaryForeground': '#3b3b3b',
    'editorHoverWidget-background': '#f3f3f3', 'editorHoverWidget-border': '#c8c8c8', 'panel-background': '#ffffff', 'settings-headerBorder': '#e5e5e5',
    'panelTitle-activeForeground': '#424242', 'panelTitle-inactiveForeground': '#424242bf', 'panelTitle-activeBorder': '#424242', 'button-secondaryHoverBackground': '#cccccc',
  },
};

/** The fake webview API: posts `load` after `ready`, answers `preview` and `apply`, records what the page sends, violations and draws. */
const FAKE_API = `// Fake acquireVsCodeApi for the pipeprof webview harness.
(function () {
  var data = window.__PP_HARNESS__;
  var pp = (window.__pp = { sent: [], violations: [], draws: [], loadAt: 0, firstDraw: null, state: data.state, acquired: 0 });
  document.addEventListener('securitypolicyviolation', function (e) { pp.violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':' + e.lineNumber); });
  document.addEventListener('timeline-draw', function (e) {
    var now = performance.now();
    var d = e.detail;
    pp.draws.push({ at: now, ms: d.ms, rects: d.rects, ops: d.ops, rows: d.rows, buckets: d.buckets, t0: d.t0, t1: d.t1 });
    if (!pp.firstDraw && pp.loadAt && d.rows > 0) pp.firstDraw = { ms: now - pp.loadAt, draw: d };
  });
  function send(m) { setTimeout(function () { window.postMessage(m, '*'); }, 0); }
  window.acquireVsCodeApi = function () {
    if (pp.acquired++) throw new Error('An instance of the VS Code API has already been acquired');
    return {
      postMessage: function (m) {
        pp.sent.push(m);
        if (m.type === 'ready') setTimeout(function () { pp.loadAt = performance.now(); window.postMessage(data.load, '*'); }, 0);
        else if (m.type === 'preview') {
          var run = data.previews && data.previews[m.rank];
          send(run ? { type: 'preview', rank: m.rank, predicted: run } : { type: 'error', message: 'no preview for plan ' + m.rank });
        } else if (m.type === 'apply') send({ type: 'applied', rank: m.rank, configFile: '/work/pipeprof.config.json' });
      },
      getState: function () { return pp.state; },
      setState: function (s) { pp.state = s; },
    };
  };
})();
`;

/** Page-side tools for tests and the benchmark (plain JS: the Node-side TypeScript has no DOM types). */
const PAGE_TOOLS = `// Page-side tools of the pipeprof webview harness: zoom, drag-pan and hover driven through real DOM events.
(function () {
  var GUTTER = 150, RIGHT = 8, AXIS = 22, ROW = 38, COMPUTE_MID = 13;
  function frame() { return new Promise(function (res) { requestAnimationFrame(res); }); }
  function canvasOf(tab) { return document.querySelector('#panel-' + (tab || 'timeline') + ' .timeline-canvas'); }
  window.__ppTools = {
    /** Fit, zoom to frac of the run with one wheel event at the plot centre, then drag back and forth for ms. */
    pan: async function (frac, ms) {
      var canvas = canvasOf('timeline');
      canvas.focus();
      canvas.dispatchEvent(new KeyboardEvent('keydown', { key: 'Home', bubbles: true, cancelable: true }));
      await frame();
      var box = canvas.getBoundingClientRect();
      var plotW = box.width - GUTTER - RIGHT;
      var cx = box.left + GUTTER + plotW / 2, cy = box.top + AXIS + (Number(canvas.dataset.computeH) || 2 * (COMPUTE_MID - 3)) / 2 + 3;
      if (frac < 1) canvas.dispatchEvent(new WheelEvent('wheel', { deltaY: Math.log(frac) / 0.0015, clientX: cx, clientY: cy, bubbles: true, cancelable: true }));
      await frame(); await frame();
      var amp = Math.min(300, (0.4 * (1 - frac) * plotW) / frac);
      var first = window.__pp.draws.length;
      canvas.dispatchEvent(new PointerEvent('pointerdown', { pointerId: 1, button: 0, clientX: cx, clientY: cy, bubbles: true }));
      var t0 = performance.now(), frames = 0;
      for (;;) {
        var now = await frame();
        frames++;
        var el = now - t0;
        if (el >= ms) break;
        canvas.dispatchEvent(new PointerEvent('pointermove', { pointerId: 1, clientX: cx + amp * Math.sin((el / 1000) * Math.PI), clientY: cy, bubbles: true }));
      }
      canvas.dispatchEvent(new PointerEvent('pointerup', { pointerId: 1, button: 0, clientX: cx, clientY: cy, bubbles: true }));
      return { elapsed: performance.now() - t0, frames: frames, draws: window.__pp.draws.slice(first) };
    },
    /** Page coordinates of the compute band of row r at fraction f of the plot width. */
    point: function (r, f, tab) {
      var box = canvasOf(tab).getBoundingClientRect();
      // The row height is the canvas's own (a timeline that fills the window grows its rows).
      var c = canvasOf(tab), row = Number(c.dataset.rowH) || ROW, mid = (Number(c.dataset.computeH) || 2 * (COMPUTE_MID - 3)) / 2 + 3;
      return { x: box.left + GUTTER + f * (box.width - GUTTER - RIGHT), y: box.top + AXIS + r * row + mid };
    },
  };
})();
`;

/**
 * Writes the harness into `dir`: index.html under the host's CSP (nonce scripts, styles from the origin or with the
 * nonce), data.js with the messages, fake-api.js, and the built bundle. `origin` is what VS Code calls cspSource.
 */
export function writeHarness(dir: string, origin: string, page: HarnessPage): void {
  for (const f of ['webview.js', 'webview.css']) {
    const src = path.join(BUNDLE_DIR, f);
    if (!fs.existsSync(src)) throw new Error(`${src} is missing; build the webview first: node scripts/build-webview.js`);
    fs.copyFileSync(src, path.join(dir, f));
  }
  const nonce = Buffer.from(String(Math.random())).toString('base64').replace(/[^A-Za-z0-9]/g, '');
  const csp = `default-src 'none'; style-src ${origin} 'nonce-${nonce}'; img-src ${origin} data:; script-src 'nonce-${nonce}'`;
  const vars = Object.entries(THEMES[page.theme ?? 'dark']).map(([k, v]) => `--vscode-${k}: ${v};`).join(' ');
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  fs.writeFileSync(path.join(dir, 'data.js'), `// Messages for the pipeprof webview harness.\nwindow.__PP_HARNESS__ = ${json({ load: page.load, previews: page.previews ?? {}, state: page.state })};\n`);
  fs.writeFileSync(path.join(dir, 'fake-api.js'), FAKE_API);
  fs.writeFileSync(path.join(dir, 'tools.js'), PAGE_TOOLS);
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="webview.css">
<style nonce="${nonce}">html { ${vars} }</style>
<title>${escapeHtml(page.title ?? 'pipeprof webview harness')}</title>
</head>
<body class="vscode-${page.theme ?? 'dark'}">
<script nonce="${nonce}" src="data.js"></script>
<script nonce="${nonce}" src="fake-api.js"></script>
<script nonce="${nonce}" src="webview.js"></script>
<script nonce="${nonce}" src="tools.js"></script>
</body>
</html>
`;
  fs.writeFileSync(path.join(dir, 'index.html'), html);
}

/** Serves `dir` on 127.0.0.1 (a free port) with no-cache headers; only files directly in it. */
export async function serve(dir: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  const server = http.createServer((req, res) => {
    const name = path.basename(decodeURIComponent((req.url ?? '/').split('?')[0])) || 'index.html';
    const file = path.join(dir, name);
    if (name === 'favicon.ico') {
      res.writeHead(204).end(); // the browser asks for it on its own; a webview never does
      return;
    }
    if (!fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(name)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A fresh temporary folder. */
export function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

type PwContext = import('playwright-core').BrowserContext;
type PwPage = import('playwright-core').Page;

/**
 * Waits until the page expression `expr` is truthy and returns its value. It polls with page.evaluate (the
 * debugger's evaluate, which the page's CSP does not govern): Playwright's waitForFunction evals string predicates
 * inside the page, which a CSP without 'unsafe-eval' refuses, and reports as a violation.
 */
export async function waitForExpr<T = unknown>(page: PwPage, expr: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = (await page.evaluate(expr)) as T;
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Debian's Chromium through playwright-core, with a fresh user-data-dir; close() also removes that folder. */
export async function launchChromium(viewport = { width: 1280, height: 800 }): Promise<{ context: PwContext; close: () => Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const profile = tmp('pipeprof-chromium-');
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
