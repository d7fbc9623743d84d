// The trace editor's first view in Chromium: one representative step (the median), rows that use the height, the bubble, straggler and critical path marked; Compare Two Traces shows both runs and colours the tables; one palette with the HTML report.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import type { ToWebview } from '../../media/src/protocol';
import { KIND_COLORS } from '../../media/src/palette';
import { diffRuns } from '../../core/analysis/diff';
import { readTimeline } from '../../core/io/read-trace';
import { renderHtml } from '../../cli/report';
import { buildReport } from '../../core/analysis/report';
import { CHROMIUM, launchChromium, plainRunView, runViewFromTimeline, serve, syntheticTimeline, tmp, waitForExpr, writeHarness } from './harness';
import type { HarnessPage } from './harness';
import { cli, tmpdir } from '../helpers';

const SKIP = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: the real-browser check of the first view is skipped (apt-get install chromium to run it)`;
/** Where the screenshots go (the report describes them): PIPEPROF_SHOTS, else a temporary folder. */
const SHOTS = process.env.PIPEPROF_SHOTS ?? tmp('pipeprof-shots-');

let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
const cleanup: (() => Promise<void> | void)[] = [];
before(async () => {
  if (!SKIP) browser = await launchChromium({ width: 1200, height: 900 });
});
after(async () => {
  for (const c of cleanup.reverse()) await c();
  await browser?.close();
});

async function open(content: HarnessPage, ready: string): Promise<{ page: Page; errors: string[] }> {
  const dir = tmp('pipeprof-first-view-');
  const server = await serve(dir);
  cleanup.push(() => server.close(), () => fs.rmSync(dir, { recursive: true, force: true }));
  writeHarness(dir, server.origin, content);
  const page = await browser!.context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.origin}/index.html`);
  await waitForExpr(page, ready);
  return { page, errors };
}

/** RGB of the canvas pixel at CSS (x, y) of the n-th timeline canvas in `tab`. */
async function pixel(page: Page, x: number, y: number, n = 0, tab = 'timeline'): Promise<number[]> {
  return (await page.evaluate(`(() => {
    const c = document.querySelectorAll('#panel-${tab} .timeline-canvas')[${n}];
    const k = c.width / c.getBoundingClientRect().width;
    return Array.from(c.getContext('2d').getImageData(Math.round(${x} * k), Math.round(${y} * k), 1, 1).data).slice(0, 3);
  })()`)) as number[];
}
const hex = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
const near = (a: number[], b: number[], tol = 40) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

test('a captured run opens on its median measured step, rows filling the window, the straggler and the critical path marked', { skip: SKIP }, async () => {
  // A real capture: 4 stages of an mlp, 2 warm-up steps (the first one 2–3× a measured step), 5 measured.
  const dir = tmpdir();
  const out = path.join(dir, 'run.pptrace.json');
  const cfg = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ model: { name: 'mlp', width: 64, depth: 8 }, stages: 4, batch: 16, microbatches: 4, steps: 5, warmup: 2, probe: false, out }));
  const cap = await cli(['capture', cfg, '--quiet']);
  assert.equal(cap.code, 0, cap.err);
  const t = await readTimeline(out);
  const measured = runViewFromTimeline(t, 'mlp · 4 stages');
  const load: ToWebview = { type: 'load', file: out, measured: plainRunView(measured), predicted: null, recommendations: [] };
  const { page, errors } = await open({ load, theme: 'light' }, `window.__pp && window.__pp.firstDraw`);
  await page.waitForTimeout(100);
  const draw = (await page.evaluate(`window.__pp.draws.filter((d) => d.rows === 4).at(-1)`)) as { t0: number; t1: number };
  // The median measured step (the report's typical step), padded by 2% each side: not the whole run.
  const report = measured.report;
  const step = measured.steps.find((s) => s.step === report.criticalPath.step)!;
  assert.equal(step.warmup, false);
  const pad = 0.02 * (step.end - step.start);
  // The window is the step padded by 2 % each side, kept inside the run: when the median step is the last one, it
  // ends at the run's end instead (seen in CI), the same width.
  const want = { t0: step.start - pad, t1: step.end + pad };
  const exact = Math.abs(draw.t0 - want.t0) < 1e-6 && Math.abs(draw.t1 - want.t1) < 1e-6;
  const lastStep = step.end >= Math.max(...measured.steps.map((s) => s.end));
  const clampedAtEnd = lastStep && Math.abs(draw.t1 - draw.t0 - (want.t1 - want.t0)) < 1e-6 && draw.t1 < want.t1 && draw.t1 >= step.end - 1e-6;
  assert.ok(exact || clampedAtEnd, `drawn ${JSON.stringify(draw)}, step ${JSON.stringify(step)}`);
  const sorted = measured.steps.filter((s) => !s.warmup).map((s) => s.end - s.start).sort((a, b) => a - b);
  assert.ok(Math.abs(step.end - step.start - sorted[(sorted.length - 1) >> 1]) <= sorted[sorted.length - 1] - sorted[0], 'a median-length step');
  const caption = (await page.locator('#panel-timeline .timeline-caption').first().textContent()) ?? '';
  assert.match(caption, new RegExp(`^step ${step.step}: the median of 5 measured steps, [\\d.]+ ms · Fit \\(0\\) shows the whole run`));
  // Rows share the window's height: 4 rows in a 900-px window are far taller than the 38-px minimum.
  const box = (await page.evaluate(`(() => { const c = document.querySelector('#panel-timeline .timeline-canvas'); const r = c.getBoundingClientRect(); return { top: r.top, height: r.height, rowH: Number(c.dataset.rowH), computeH: Number(c.dataset.computeH) }; })()`)) as { top: number; height: number; rowH: number; computeH: number };
  assert.ok(box.rowH >= 100, `row height ${box.rowH}`);
  assert.ok(box.top + box.height <= 900, `the canvas ends at ${box.top + box.height}, within the 900-px window`);
  assert.ok(box.rowH === 220 || box.top + box.height >= 900 - 60, `rows of ${box.rowH} px leave the window's bottom empty (canvas ends at ${box.top + box.height})`);
  // The straggler's row carries a bar in the "worse" colour at the gutter's edge.
  const sRow = report.straggler.stage;
  assert.ok(near(await pixel(page, 1, 22 + sRow * box.rowH + 3 + box.computeH / 2), hex('#e8590c')), 'straggler bar');
  const other = (sRow + 1) % 4;
  assert.ok(!near(await pixel(page, 1, 22 + other * box.rowH + 3 + box.computeH / 2), hex('#e8590c')), 'no bar on another row');
  await page.screenshot({ path: path.join(SHOTS, 'first-view-light.png') });
  // The critical path: its longest compute op is outlined in the foreground colour (#3b3b3b in the light theme).
  // (Among the ops inside the drawn window: on a run of sub-ms ops the path's OPT was seen to start past the step's recorded end.)
  const inView = (o: { startMs: number; durMs: number }) => step.start + o.startMs >= draw.t0 && step.start + o.startMs + o.durMs <= draw.t1;
  const first = report.criticalPath.ops.filter((o) => o.kind !== 'SEND' && o.kind !== 'RECV' && inView(o)).sort((a, b) => b.durMs - a.durMs)[0];
  const W = 1200 - 150 - 8;
  const xOf = (ms: number) => 150 + ((ms - draw.t0) / (draw.t1 - draw.t0)) * W;
  const x = xOf(step.start + first.startMs + first.durMs / 2);
  const top = 22 + first.stage * box.rowH + 3;
  // The 2-px stroke along the op's top edge, looked for within a pixel of it across the op's middle (canvas rounding).
  const xs = [-0.25, 0, 0.25].map((f) => x + f * (xOf(step.start + first.startMs + first.durMs) - xOf(step.start + first.startMs)));
  const seen: number[][] = [];
  for (const px of xs) for (const py of [top, top + 1, top + 2]) seen.push(await pixel(page, px, py));
  assert.ok(seen.some((c) => near(c, hex('#3b3b3b'), 60)), `outline at the top edge of the path's longest op: ${JSON.stringify(seen)} (op ${JSON.stringify(first)}, x ${x}, y ${top}–${top + 2})`);
  // Step comes back to this window after Fit.
  await page.click('#panel-timeline vscode-button[title^="show the whole run"]');
  await page.click('#panel-timeline vscode-button[title^="show the median measured step"]');
  await page.waitForTimeout(100);
  const back = (await page.evaluate(`window.__pp.draws.filter((d) => d.rows === 4).at(-1)`)) as { t0: number; t1: number };
  assert.ok(Math.abs(back.t0 - draw.t0) < 1e-6 && Math.abs(back.t1 - draw.t1) < 1e-6);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Compare Two Traces: the Timeline tab shows a and b; the diff tables colour better and worse', { skip: SKIP }, async () => {
  const a = syntheticTimeline({ events: 1500, stages: 3, microbatches: 4, schedule: 'gpipe' });
  const b = syntheticTimeline({ events: 1500, stages: 3, microbatches: 8, schedule: '1f1b' });
  const ra = runViewFromTimeline(a, 'gpipe run');
  const rb = runViewFromTimeline(b, '1f1b run');
  const diff = diffRuns(a, b, ra.report, rb.report);
  const load: ToWebview = { type: 'load', file: '/work/a.pptrace.json', measured: plainRunView(ra), predicted: plainRunView(rb), recommendations: [], diff };
  const { page, errors } = await open({ load }, `document.querySelector('#panel-compare table.diff-run tbody tr') !== null`);
  // Step time: a shorter step is better, a longer one worse; samples/s the other way round; only the delta columns.
  const stepCells = page.locator('#panel-compare table.diff-run tr[data-key="step"] td');
  const [gain, loss] = diff.stepTimeMs.delta! < 0 ? ['better', 'worse'] : ['worse', 'better'];
  assert.ok(Math.abs(diff.stepTimeMs.ratio! - 1) > 0.01, `a real change: ${JSON.stringify(diff.stepTimeMs)}`);
  assert.deepEqual(await stepCells.evaluateAll((tds) => tds.map((td) => td.className)), ['', 'num', 'num', `num ${gain}`, `num ${gain}`]);
  // More samples per second is better (here b also runs a bigger batch, so it need not follow the step time).
  const up = diff.samplesPerSec.delta! > 0 ? 'better' : 'worse';
  assert.equal(await page.locator(`#panel-compare table.diff-run tr[data-key="throughput"] td.${up}`).count(), 2);
  assert.equal(await page.locator(`#panel-compare table.diff-run tr[data-key="throughput"] td.${up === 'better' ? 'worse' : 'better'}`).count(), 0);
  void loss;
  const colour = (await page.evaluate(`getComputedStyle(document.querySelector('#panel-compare td.${gain}')).color`)) as string;
  assert.equal(colour, gain === 'better' ? 'rgb(47, 126, 216)' : 'rgb(232, 89, 12)');
  await page.screenshot({ path: path.join(SHOTS, 'compare-tables-dark.png'), fullPage: true });
  await page.click('vscode-tab-header[data-tab=timeline]');
  await waitForExpr(page, `document.querySelectorAll('#panel-timeline .timeline-canvas').length === 2 && window.__pp.draws.filter((d) => d.rows === 3).length >= 2`);
  const captions = await page.locator('#panel-timeline .timeline-caption').allTextContents();
  assert.match(captions[0], /^a · gpipe run · step \d+: the median of/);
  assert.equal(captions[1], 'b · 1f1b run');
  assert.ok(await page.locator('#panel-timeline .timeline').nth(1).isVisible());
  await page.screenshot({ path: path.join(SHOTS, 'compare-timeline-dark.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('one palette: the HTML report colours the kinds as the webview does; B and W stay apart on white', () => {
  const t = syntheticTimeline({ events: 400, stages: 2, microbatches: 4, schedule: 'zb-h1' });
  const html = renderHtml(buildReport(t), t, 'x.pptrace.json', '');
  for (const k of ['F', 'B', 'W', 'OPT'] as const) assert.ok(html.includes(`"${k}":"${KIND_COLORS[k]}"`), `${k} ${KIND_COLORS[k]}`);
  // CIE76 colour difference in Lab: above ~25 two colours read as different at a glance; B and W are orange and green.
  const lab = (c: string) => {
    const lin = hex(c).map((v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    const [x, y, z] = [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]].map((r, i) => (r[0] * lin[0] + r[1] * lin[1] + r[2] * lin[2]) / [0.95047, 1, 1.08883][i]);
    const f = (v: number) => (v > 0.008856 ? Math.cbrt(v) : 7.787 * v + 16 / 116);
    return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
  };
  const dE = (a: string, b: string) => Math.hypot(...lab(a).map((v, i) => v - lab(b)[i]));
  assert.ok(dE(KIND_COLORS.B, KIND_COLORS.W) > 40, `B/W ΔE ${dE(KIND_COLORS.B, KIND_COLORS.W)}`);
  for (const k of ['F', 'B', 'W', 'OPT'] as const) assert.ok(dE(KIND_COLORS[k], '#ffffff') > 25, `${k} on white`);
});
