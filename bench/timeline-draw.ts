// Benchmark: the webview timeline in Chromium — load message to first full draw of 100,000 ops, and pan frame rate while dragging.
// Usage: node dist/bench/timeline-draw.js [--events 100000] [--rounds 5] [--trace run.pptrace.json] [--shots /tmp]
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { readTimeline } from '../core/io/read-trace';
import { recommendForTrace } from '../core/recommend/for-trace';
import { simulate } from '../core/simulate/simulate';
import type { RecommendationView, RunView, ToWebview } from '../media/src/protocol';
import { CHROMIUM, launchChromium, plainRunView, runViewFromTimeline, sampleRecommendations, serve, syntheticRun, tmp, waitForExpr, writeHarness } from '../test/media/harness';
import type { HarnessPage } from '../test/media/harness';
import { args, machine, save, table } from './common';

interface PanResult {
  window: string;
  elapsedMs: number;
  frames: number;
  draws: number;
  fps: number;
  drawP50: number;
  drawP95: number;
  drawMax: number;
  rects: number;
  visibleOps: number;
  bucketBands: number;
}

const quantile = (xs: number[], q: number): number => {
  if (!xs.length) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

async function openPage(page: Page, origin: string): Promise<{ firstDrawMs: number; rects: number; ops: number }> {
  await page.goto(`${origin}/index.html`);
  await waitForExpr(page, 'window.__pp && window.__pp.firstDraw', 60_000);
  const fd = (await page.evaluate('window.__pp.firstDraw')) as { ms: number; draw: { rects: number; ops: number } };
  return { firstDrawMs: fd.ms, rects: fd.draw.rects, ops: fd.draw.ops };
}

/** Zooms the main timeline to `frac` of the run (a wheel event at the plot's centre), then drags it back and forth for `ms`. */
async function pan(page: Page, frac: number, ms: number): Promise<PanResult> {
  const r = (await page.evaluate(`window.__ppTools.pan(${frac}, ${ms})`)) as { elapsed: number; frames: number; draws: { ms: number; rects: number; ops: number; buckets: number }[] };
  const times = r.draws.map((d) => d.ms);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    window: frac === 1 ? 'whole run' : `${(frac * 100).toFixed(frac < 0.1 ? 1 : 0)}% of run`,
    elapsedMs: r.elapsed,
    frames: r.frames,
    draws: r.draws.length,
    fps: r.draws.length / (r.elapsed / 1000),
    drawP50: quantile(times, 0.5),
    drawP95: quantile(times, 0.95),
    drawMax: Math.max(0, ...times),
    rects: Math.round(mean(r.draws.map((d) => d.rects))),
    visibleOps: Math.round(mean(r.draws.map((d) => d.ops))),
    bucketBands: Math.round(mean(r.draws.map((d) => d.buckets))),
  };
}

/** Load message, predicted run and previews for a real trace, built the way the extension host builds them. */
async function realTracePage(file: string): Promise<HarnessPage> {
  const t = await readTimeline(file);
  const measured = runViewFromTimeline(t, path.basename(file));
  let predicted: RunView | null = null;
  let recommendations: RecommendationView[] = [];
  const previews: Record<number, RunView> = {};
  try {
    const rec = recommendForTrace(t, file, { top: 5 });
    const steps = Math.max(1, t.steps.length);
    const sim = (plan: NonNullable<typeof t.plan>) => simulate({ plan, batch: t.batch ?? 1, costs: rec.costs, layers: t.layers, steps, model: t.model ?? undefined });
    predicted = plainRunView(runViewFromTimeline(sim(rec.traced), `${path.basename(file)} (simulated)`));
    recommendations = rec.plans.map((p, i) => ({ rank: i + 1, layout: p.layout, balance: p.balance, microbatches: p.microbatches, schedule: p.schedule, recompute: p.recompute, predictedStepTimeMs: p.predictedStepTimeMs, speedup: p.speedup, peakMemoryBytes: p.peakMemoryBytes }));
    rec.plans.forEach((p, i) => {
      previews[i + 1] = plainRunView(runViewFromTimeline(sim({ ...rec.traced, balance: p.balance, microbatches: p.microbatches, schedule: p.schedule, recompute: p.recompute }), `plan #${i + 1}`));
    });
  } catch (e) {
    console.error(`no prediction for ${file}: ${(e as Error).message}`);
  }
  const load: ToWebview = { type: 'load', file, measured: plainRunView(measured), predicted, recommendations };
  return { load, previews, title: path.basename(file) };
}

async function screenshots(page: Page, origin: string, shots: string, prefix: string, all: boolean): Promise<string[]> {
  const out: string[] = [];
  const shot = async (name: string) => {
    const f = path.join(shots, `${prefix}${name}.png`);
    await page.screenshot({ path: f, fullPage: true });
    out.push(f);
  };
  await openPage(page, origin);
  await page.waitForTimeout(200);
  await shot('');
  if (!all) {
    await page.click('vscode-tab-header[data-tab=charts]');
    await page.waitForTimeout(300);
    await shot('-charts');
    return out;
  }
  // Hover the first op found along the first row, for the tooltip.
  for (let f = 0.02; f < 1; f += 0.01) {
    const pt = (await page.evaluate(`window.__ppTools.point(0, ${f})`)) as { x: number; y: number };
    await page.mouse.move(pt.x, pt.y);
    if (await page.locator('#panel-timeline .timeline-tooltip:not([hidden])').count()) break;
  }
  await page.waitForTimeout(100);
  await shot('-hover');
  await page.mouse.move(0, 0);
  for (const tab of ['compare', 'charts', 'recommendations']) {
    await page.click(`vscode-tab-header[data-tab=${tab}]`);
    await page.waitForTimeout(300);
    await shot(`-${tab}`);
  }
  const preview = page.locator('#panel-recommendations vscode-button', { hasText: 'Preview' }).first();
  if (await preview.count()) {
    await preview.click();
    await page.waitForTimeout(400);
    await shot('-preview');
  }
  return out;
}

async function main(): Promise<void> {
  if (!fs.existsSync(CHROMIUM)) {
    console.log(`timeline-draw: ${CHROMIUM} not found; install Debian's chromium (apt-get install chromium) to run this benchmark`);
    process.exitCode = 2;
    return;
  }
  const events = Number(args.get('events') ?? '100000');
  const rounds = Number(args.get('rounds') ?? '5');
  const shots = args.get('shots') ?? '/tmp';
  const trace = args.get('trace') ?? '';
  fs.mkdirSync(shots, { recursive: true });

  const built = Date.now();
  const measured = syntheticRun(events);
  const buildMs = Date.now() - built;
  const load: ToWebview = { type: 'load', file: `synthetic-${events}.pptrace.json`, measured: plainRunView(measured), predicted: null, recommendations: sampleRecommendations() };
  const dir = tmp('pipeprof-bench-');
  const server = await serve(dir);
  writeHarness(dir, server.origin, { load, title: 'timeline-draw benchmark' });
  const dataMiB = fs.statSync(path.join(dir, 'data.js')).size / 2 ** 20;
  const browser = await launchChromium({ width: 1280, height: 800 });
  const shotFiles: string[] = [];
  try {
    const page = await browser.context.newPage();
    const loads: { firstDrawMs: number; rects: number; ops: number }[] = [];
    for (let i = 0; i < rounds; i++) loads.push(await openPage(page, server.origin));
    await page.screenshot({ path: path.join(shots, 'timeline.png'), fullPage: true });
    shotFiles.push(path.join(shots, 'timeline.png'));
    const pans: PanResult[] = [];
    for (const frac of [0.9, 0.25, 0.02, 0.002]) pans.push(await pan(page, frac, 2000));
    await page.screenshot({ path: path.join(shots, 'timeline-zoomed.png'), fullPage: true });
    shotFiles.push(path.join(shots, 'timeline-zoomed.png'));
    await page.close();

    const realShots: string[] = [];
    if (trace) {
      const content = await realTracePage(trace);
      for (const theme of ['dark', 'light'] as const) {
        const realDir = tmp('pipeprof-bench-real-');
        const realServer = await serve(realDir);
        writeHarness(realDir, realServer.origin, { ...content, theme });
        const p2 = await browser.context.newPage();
        realShots.push(...(await screenshots(p2, realServer.origin, shots, theme === 'dark' ? 'real' : 'real-light', theme === 'dark')));
        await p2.close();
        await realServer.close();
        fs.rmSync(realDir, { recursive: true, force: true });
      }
    }
    shotFiles.push(...realShots);

    const firsts = loads.map((l) => l.firstDrawMs);
    const head = `${events.toLocaleString('en-US')} ops (${measured.rows.length} rows, ${measured.steps.length} steps), Chromium ${CHROMIUM} headless --disable-gpu, 1280×800; load → first draw: median of ${rounds} page loads; pan: 2 s of drag, one pointermove per animation frame`;
    const loadTable = table(['measure', 'value', 'goal'], [
      ['load message → first full draw (median)', `${quantile(firsts, 0.5).toFixed(0)} ms`, '< 1000 ms'],
      ['load message → first full draw (max)', `${Math.max(...firsts).toFixed(0)} ms`, ''],
      ['rectangles in that draw', loads[0].rects, `≤ rows × lanes × width`],
      ['message size (JSON)', `${dataMiB.toFixed(1)} MiB`, ''],
    ]);
    const panTable = table(['window', 'fps', 'frames', 'draw p50 ms', 'draw p95 ms', 'draw max ms', 'visible ops', 'rects/draw', 'bucketed bands'], pans.map((p) => [
      p.window, p.fps.toFixed(1), p.frames, p.drawP50.toFixed(2), p.drawP95.toFixed(2), p.drawMax.toFixed(2), p.visibleOps, p.rects, p.bucketBands,
    ]));
    const md = `${head}\n\n${loadTable}\n\n${panTable}`;
    console.log(md);
    console.log(`\nscreenshots: ${shotFiles.join(', ')}`);
    save('timeline-draw', { machine: machine(), events, rows: measured.rows.length, syntheticBuildMs: buildMs, dataMiB, loads, pans, screenshots: shotFiles }, md);
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
