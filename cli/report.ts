// `pipeprof report <trace>`: reads a trace, runs every analysis, prints a table or JSON, optionally writes one self-contained HTML page.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { UsageError } from '../core/config/errors';
import { pct, readInputs, table } from './io';
import { checkOutputs, writeOrKeep } from '../core/io/outputs';
import { expandInputs } from '../core/io/read-trace';
import { printable } from '../core/io/printable';
import type { Timeline } from '../core/trace/timeline';
import type { Report } from '../core/analysis/report';
import { buildReport, stepOps } from '../core/analysis/report';
import { analyticBubbleFormula } from '../core/schedule/analytic';
import { IDLE_COLOR, KIND_COLORS } from '../media/src/palette';
import type { StepSpread } from '../core/analysis/step-spread';
import { SLOW_STEP } from '../core/analysis/step-spread';
import type { BusyKind } from '../core/analysis/utilization';
import { AnalysisError, BUSY_KINDS } from '../core/analysis/utilization';
import type { CliIO } from './io';
import type { GpuShare } from '../core/analysis/gpu-share';
import { gpuShare } from '../core/analysis/gpu-share';
import { planText } from '../core/config/apply-plan';
import { stageCount } from '../core/plan/types';

export interface ReportFlags {
  json?: boolean;
  html?: string;
  /** Other traces whose loss curves the HTML page draws beside this one's (by step and by wall-clock). */
  with?: string[];
}

/** One run's loss curve: per step, the loss and the wall-clock seconds from the run's first step start to the step's end. */
export interface LossSeries {
  label: string;
  points: { step: number; loss: number | null; seconds: number; warmup: boolean }[];
}

export function lossSeries(t: Timeline, label: string): LossSeries {
  const t0 = t.steps.length ? Math.min(...t.steps.map((s) => s.startUs)) : 0;
  return { label, points: t.steps.map((s) => ({ step: s.step, loss: Number.isFinite(s.loss) ? s.loss : null, seconds: (s.endUs - t0) / 1e6, warmup: s.warmup })) };
}

const ms = (x: number) => x.toFixed(1);
/** Bytes in the largest binary unit that keeps a digit before the point. */
const bytes = (b: number | null) => {
  if (b === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (u < units.length - 1 && b >= 1024 ** (u + 1)) u++;
  return u ? `${(b / 1024 ** u).toFixed(1)} ${units[u]}` : `${b} B`;
};

/** Busy-time columns of a report: F and B always, other kinds when some stage ran them (KERNEL: a PyTorch trace's kernels). */
function busyColumns(r: Report): (BusyKind | 'KERNEL')[] {
  const kinds: (BusyKind | 'KERNEL')[] = BUSY_KINDS.filter((k) => k === 'F' || k === 'B' || r.stages.some((s) => s.busyMs[k] > 0));
  if (r.stages.some((s) => (s.busyMs.KERNEL ?? 0) > 0)) kinds.push('KERNEL');
  return kinds;
}

/** Per-rank lines of a PyTorch (Kineto) trace: HTA's temporal breakdown and comm/compute overlap, then the DP straggler. */
function formatRanks(r: Report): string {
  const ranks = r.ranks ?? [];
  if (!ranks.length) return '';
  const rows = ranks.map((k) => [
    String(k.rank), pct(k.idleFraction), pct(k.computeFraction), pct(k.nonComputeFraction), pct(k.commCompOverlap), ms(k.spanUs / 1000), k.steps.length ? k.steps.join(',') : 'all',
  ]);
  const headers = ['rank', 'idle', 'compute', 'non-compute', 'comm/comp overlap', 'span ms', 'steps'];
  const s = r.rankStraggler;
  const straggler = s
    ? `\nstraggler   rank ${s.rank}: ${ms(s.computeUsPerStep / 1000)} ms compute per step, ${pct(s.overMeanFraction)} over the mean of ${ms(s.meanComputeUsPerStep / 1000)} ms (the others wait for it in their collectives)`
    : '';
  return `\nper rank (HTA's temporal breakdown of GPU time, as HTA defines it: GPU events launched before the last step, merged over streams, rounded to whole µs when the file has ns times; memcpy, memset and stream waits count as non-compute)\n${table(headers, rows, headers.map((_, i) => i > 0))}${straggler}\n`;
}

/** The measured steps' range, and the slow ones: how far the run's median holds. */
export function spreadText(sp: StepSpread): string {
  const slow = sp.slowSteps.length
    ? `; step${sp.slowSteps.length === 1 ? '' : 's'} ${sp.slowSteps.join(', ')} took ≥ ${Math.round((SLOW_STEP - 1) * 100)}% over the median (the machine was busy, or the run still warming up: measure again, or warm up longer: --warmup, --warmup-ms)`
    : `; no step ≥ ${Math.round((SLOW_STEP - 1) * 100)}% over the median`;
  return `${ms(sp.minMs)}–${ms(sp.maxMs)} ms (${pct(sp.relative)} of the median)${slow}`;
}

/** How the ops of an imported pipeline were found: the rule per rank (RankInfo.opsRule), one line. */
function opsRuleText(r: Report, rules: string[]): string {
  return rules.length ? `ops         identified by ${rules.join(' and ')}; ranks → stages from the pipeline process group${r.plan && r.plan.replicas > 1 ? `, ${r.plan.replicas} data-parallel replicas` : ''}` : '';
}

/** The text report of a PyTorch trace that is no pipeline: one row per rank, GPU busy and idle, no pipeline words. */
function formatRankView(r: Report, file: string): string {
  const n = r.stages.length;
  const pathKinds = Object.entries(r.criticalPath.byKind).sort((a, b) => b[1] - a[1]).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${ms(v)}`).join(', ');
  const busy = r.stages.map((s) => s.utilization);
  const lines = [
    `trace       ${file}  (${r.source}, ${r.status})`,
    `ranks       ${n} rank${n === 1 ? '' : 's'}, no pipeline (a PyTorch profiler trace): one row per rank`,
    `step time   ${ms(r.stepTimeMs)} ms (median of ${r.measuredSteps} measured step${r.measuredSteps === 1 ? '' : 's'})`,
    ...(r.measuredSteps > 1 ? [`spread      ${spreadText(r.stepTimeSpread)}`] : []),
    `GPU busy    ${busy.map(pct).join(', ')} of the step (compute kernels, merged over streams)`,
    r.overlapFraction === null ? 'collectives none' : `collectives ${ms(r.commMs)} ms per step, ${pct(r.overlapFraction)} hidden under compute`,
    `critical    step ${r.criticalPath.step}: ${r.criticalPath.ops.length} kernels cover ${ms(r.criticalPath.pathMs)} of ${ms(r.criticalPath.stepMs)} ms (${pathKinds})`,
  ];
  const rows = r.stages.map((s) => [String(s.stage), pct(s.utilization), pct(Math.max(0, 1 - s.utilization)), ms(s.busyMs.KERNEL ?? 0), ms(s.commMs), pct(s.overlapFraction)]);
  const headers = ['row', 'GPU busy', 'not busy', 'kernel ms', 'collective ms', 'hidden'];
  return `${lines.join('\n')}\n\n${table(headers, rows, headers.map((_, i) => i > 0))}\n\nper measured step; rows are ranks (see below)\n${formatRanks(r)}`;
}

/** The text report: a summary, then one row per stage. */
export function formatReport(r: Report, file: string): string {
  if (r.origin === 'kineto' && !r.plan) return formatRankView(r, file);
  const p = r.plan;
  const kinds = busyColumns(r);
  const top = r.stages.length ? r.criticalPath.byStage.indexOf(Math.max(...r.criticalPath.byStage)) : 0;
  const pathKinds = Object.entries(r.criticalPath.byKind).sort((a, b) => b[1] - a[1]).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${ms(v)}`).join(', ');
  const rule = opsRuleText(r, r.opsRules ?? []);
  const lines = [
    `trace       ${file}  (${r.source}, ${r.status})`,
    p ? `plan        ${stageCount(p)} stages, ${planText(p)}${r.model ? ` · ${printable(r.model)}` : ''}${r.backend ? ` on ${printable(r.backend)}` : ''}`
      : r.origin === 'kineto' ? `plan        none (a PyTorch profiler trace without PP: annotations): one row per rank, ${r.stages.length} rank${r.stages.length === 1 ? '' : 's'}`
      : `plan        unknown (a Chrome trace without the pipeprof block), ${r.stages.length} stages`,
    ...(rule ? [rule] : []),
    `step time   ${ms(r.stepTimeMs)} ms (median of ${r.measuredSteps} measured step${r.measuredSteps === 1 ? '' : 's'})${r.samplesPerSec !== null ? `   ${r.samplesPerSec.toFixed(1)} samples/s` : ''}`,
    ...(r.measuredSteps > 1 ? [`spread      ${spreadText(r.stepTimeSpread)}`] : []),
    `bubble      ${pct(r.bubbleFraction)} of each stage's step on average: idle ${ms(r.idleMs)} ms + waiting for a peer ${ms(r.waitingMs)} ms; transfer on the wire ${ms(r.transferMs)} ms (exposed, not bubble)${r.analyticBubbleFraction !== null ? `   (${(p && analyticBubbleFormula(p)) ?? 'analytic'}: ${pct(r.analyticBubbleFraction)})` : ''}`,
    r.overlapFraction === null ? 'overlap     no communication' : `overlap     ${pct(r.overlapFraction)} of ${ms(r.commMs)} ms communication per step hidden under compute (SEND/RECV: their transfer only; their waiting is bubble)`,
    ...(r.allreduceOverlapFraction === null ? [] : [`all-reduce  ${ms(r.allreduceMs)} ms per step (all stages), ${pct(r.allreduceOverlapFraction)} hidden under compute`]),
    `straggler   stage ${r.straggler.stage}: busy ${ms(r.straggler.busyMs)} ms per step, ${pct(r.straggler.overMeanFraction)} over the mean of ${ms(r.straggler.meanBusyMs)} ms`,
    `critical    step ${r.criticalPath.step}: ${r.criticalPath.ops.length} ops cover ${ms(r.criticalPath.pathMs)} of ${ms(r.criticalPath.stepMs)} ms (${pathKinds}); ${pct(r.criticalPath.byStage[top] / Math.max(1e-9, r.criticalPath.pathMs))} of it on stage ${top}`,
  ];
  if (r.status === 'failed') lines.push(`note        the run failed; only the ${r.losses.length} step(s) it completed are analysed`);
  const rows = r.stages.map((s) => [
    String(s.stage), pct(s.utilization), pct(s.bubbleFraction), ms(s.idleMs), ms(s.waitingMs), ms(s.transferMs), ...kinds.map((k) => ms(s.busyMs[k] ?? 0)), ms(s.commMs), pct(s.overlapFraction), bytes(s.peakMemoryBytes),
    s.achievedFlops === null ? '–' : `${(s.achievedFlops / 1e9).toFixed(2)}${s.peakFlopsShare !== null ? ` (${pct(s.peakFlopsShare)})` : ''}`,
  ]);
  const headers = ['stage', 'util', 'bubble', 'idle ms', 'wait ms', 'xfer ms', ...kinds.map((k) => `${k} ms`), 'comm ms', 'overlap', 'peak memory', 'GFLOP/s'];
  const right = headers.map((_, i) => i > 0);
  return `${lines.join('\n')}\n\n${table(headers, rows, right)}\n\nper measured step; bubble = idle + wait (in SEND/RECV for a peer); xfer = bytes on the wire, not under compute; busy ms by op kind; comm = transfer + all-reduce\n${formatRanks(r)}`;
}

/** The report's line for stage workers sharing one GPU (webgpu): each worker's share of the GPU. */
export function formatGpuShare(g: GpuShare): string {
  const who = (w: GpuShare['workers'][number]) => `stage ${w.stage}${g.workers.some((x) => x.replica > 0) ? ` replica ${w.replica}` : ''}`;
  const each = g.workers.map((w) => `${who(w)} ${pct(w.share)} (in flight ${pct(w.inFlight)} of the time)`).join(', ');
  return `gpu         ${g.adapter}, shared by ${g.devices} stage worker${g.devices === 1 ? '' : 's'} (a Dawn device each): ${each}; two or more at once ${pct(g.concurrent)}, idle ${pct(1 - g.busy)}\n`;
}

// ---------------------------------------------------------------- HTML

const escapeHtml = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON safe inside a <script> element: no `<`, `>`, `&` or line separators survive literally. */
const scriptJson = (v: unknown): string =>
  JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Chart.js's browser build, read from node_modules, safe to inline in a <script> element. */
export function chartJsSource(): string {
  const file = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  return fs.readFileSync(file, 'utf8').replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
}

/** The pipeline kinds in the legend, coloured as in the webview (media/src/palette.ts: one palette). */
const COLORS: Record<string, string> = { ...Object.fromEntries((['F', 'B', 'W', 'R', 'OPT', 'SEND', 'RECV', 'ALLREDUCE'] as const).map((k) => [k, KIND_COLORS[k]])), bubble: IDLE_COLOR };
/** Kinds only a PyTorch (Kineto) trace has; its pages add them to the legend. */
const KINETO_COLORS: Record<string, string> = Object.fromEntries((['KERNEL', 'COMM', 'MEMCPY', 'MEMSET', 'SYNC'] as const).map((k) => [k, KIND_COLORS[k]]));

/** The page's own drawing code: a canvas timeline of one step, chart.js utilization bars and loss curve. */
const PAGE_SCRIPT = `
(function () {
  var D = JSON.parse(document.getElementById('pipeprof-data').textContent);
  var C = D.colors;
  // Timeline of one step: one row per stage; compute tall, send/receive as thin strips under it.
  var cv = document.getElementById('timeline');
  var dpr = window.devicePixelRatio || 1;
  var W = cv.parentElement.clientWidth || 900, rowH = 46, left = 70, top = 8, H = top + D.step.stages * rowH + 28;
  cv.width = W * dpr; cv.height = H * dpr; cv.style.width = W + 'px'; cv.style.height = H + 'px';
  var g = cv.getContext('2d'); g.scale(dpr, dpr);
  var span = Math.max(D.step.stepMs, 1e-9), x = function (t) { return left + (W - left - 10) * t / span; };
  g.font = '12px system-ui, sans-serif'; g.textBaseline = 'middle';
  for (var s = 0; s < D.step.stages; s++) { g.fillStyle = '#333'; g.fillText((D.pipeline ? 'stage ' : 'row ') + s, 4, top + s * rowH + 14); g.fillStyle = '#f6f6f6'; g.fillRect(left, top + s * rowH, W - left - 10, 28); }
  var boxes = [];
  D.step.ops.forEach(function (o) {
    var y = top + o.stage * rowH + (o.lane === 0 ? 0 : o.lane === 1 ? 30 : o.lane === 2 ? 36 : 42), h = o.lane === 0 ? 28 : 4;
    var x0 = x(o.startMs), w = Math.max(1, x(o.startMs + o.durMs) - x0);
    g.fillStyle = C[o.kind] || '#999'; g.fillRect(x0, y, w, h);
    boxes.push({ x: x0, y: y, w: w, h: Math.max(h, 6), o: o });
    var label = o.kind + (o.microbatch === null ? '' : o.microbatch);
    if (o.lane === 0 && g.measureText(label).width + 4 < w) { g.fillStyle = '#fff'; g.fillText(label, x0 + 2, y + 14); }
  });
  g.fillStyle = '#555';
  for (var i = 0; i <= 5; i++) { var t = span * i / 5; g.fillText(t.toFixed(0) + ' ms', Math.min(x(t), W - 50), H - 10); }
  var tip = document.getElementById('tip');
  cv.addEventListener('mousemove', function (e) {
    var r = cv.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top, hit = null;
    boxes.forEach(function (b) { if (px >= b.x && px <= b.x + b.w && py >= b.y && py <= b.y + b.h) hit = b; });
    tip.textContent = hit ? 'stage ' + hit.o.stage + ' · ' + hit.o.kind + (hit.o.microbatch === null ? '' : ' micro-batch ' + hit.o.microbatch) + ' · ' + hit.o.startMs.toFixed(2) + ' ms + ' + hit.o.durMs.toFixed(2) + ' ms' : '';
  });
  var legend = document.getElementById('legend');
  Object.keys(C).forEach(function (k) { var sp = document.createElement('span'); sp.className = 'key'; sp.style.background = C[k]; legend.appendChild(sp); legend.appendChild(document.createTextNode(k + '  ')); });
  if (typeof Chart === 'undefined') return;
  Chart.defaults.animation = false;
  var stages = D.report.stages.map(function (s) { return (D.pipeline ? 'stage ' : 'row ') + s.stage; });
  var kinds = ['F', 'B', 'W', 'R', 'OPT', 'KERNEL'];
  var sets = kinds.filter(function (k) { return D.report.stages.some(function (s) { return s.busyMs[k] > 0; }); }).map(function (k) {
    return { label: k + ' ms', data: D.report.stages.map(function (s) { return s.busyMs[k]; }), backgroundColor: C[k] };
  });
  if (D.pipeline) {
    sets.push({ label: 'idle ms', data: D.report.stages.map(function (s) { return s.idleMs; }), backgroundColor: C.bubble });
    sets.push({ label: 'waiting for a peer ms', data: D.report.stages.map(function (s) { return s.waitingMs; }), backgroundColor: C.RECV });
    sets.push({ label: 'transfer ms', data: D.report.stages.map(function (s) { return s.transferMs; }), backgroundColor: C.SEND });
  } else sets.push({ label: 'not busy ms', data: D.report.stages.map(function (s) { return Math.max(0, s.idleMs + s.waitingMs + s.transferMs + s.collectiveMs); }), backgroundColor: C.bubble });
  new Chart(document.getElementById('util'), { type: 'bar', data: { labels: stages, datasets: sets },
    options: { indexAxis: 'y', responsive: true, maintainAspectRatio: false, scales: { x: { stacked: true, title: { display: true, text: 'ms per measured step' } }, y: { stacked: true } } } });
  // Loss by step and by wall-clock: this run, and the runs given with --with.
  var palette = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f'];
  var curve = function (by) {
    return D.series.map(function (s, i) {
      var pts = s.points.filter(function (p) { return p.loss !== null; });
      return { label: s.label, data: pts.map(function (p) { return { x: p[by], y: p.loss }; }), borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], showLine: true,
        pointBackgroundColor: pts.map(function (p) { return p.warmup ? '#bbb' : palette[i % palette.length]; }) };
    });
  };
  var lossChart = function (id, by, title) {
    new Chart(document.getElementById(id), { type: 'scatter', data: { datasets: curve(by) },
      options: { responsive: true, maintainAspectRatio: false, scales: { x: { title: { display: true, text: title } }, y: { title: { display: true, text: 'loss' } } } } });
  };
  if (document.getElementById('loss')) {
    lossChart('loss', 'step', 'step (grey: warm-up)');
    lossChart('losstime', 'seconds', 'wall-clock seconds since the first step started');
  }
})();
`;

/** One self-contained page: no network, every string from the trace escaped, chart.js inlined. */
export function renderHtml(r: Report, t: Timeline, file: string, chartJs: string, nonce = randomBytes(16).toString('base64'), others: LossSeries[] = []): string {
  const step = stepOps(t, r.criticalPath.step);
  const data = {
    report: { ...r, losses: r.losses.map((l) => ({ ...l, loss: Number.isFinite(l.loss) ? l.loss : null })), layers: undefined, criticalPath: undefined },
    step: { stages: t.stages, stepMs: step.stepMs, ops: step.ops },
    colors: t.origin === 'kineto' ? { ...COLORS, ...KINETO_COLORS } : COLORS,
    series: [lossSeries(t, path.basename(file)), ...others],
    pipeline: !(r.origin === 'kineto' && !r.plan),
  };
  // Only what the data holds: no loss charts without a loss, no layers table without layers, no pipeline words without a pipeline.
  const hasLoss = data.series.some((x) => x.points.some((pt) => pt.loss !== null));
  const perRank = !data.pipeline;
  const p = r.plan;
  const summary: [string, string][] = [
    ['trace', `${file} (${r.source}, ${r.status})`],
    ['model', `${r.model ?? 'unknown'}${r.backend ? ` on ${r.backend}` : ''}`],
    perRank
      ? ['ranks', `${r.stages.length} rank${r.stages.length === 1 ? '' : 's'}, no pipeline (a PyTorch profiler trace): one row per rank`]
      : ['plan', p ? `${stageCount(p)} stages, ${planText(p)}` : 'unknown'],
    ...(r.opsRules?.length ? [['ops', `identified by ${r.opsRules.join(' and ')}; ranks → stages from the pipeline process group`] as [string, string]] : []),
    ['step time', `${ms(r.stepTimeMs)} ms (median of ${r.measuredSteps})${r.samplesPerSec !== null ? ` · ${r.samplesPerSec.toFixed(1)} samples/s` : ''}`],
    ...(r.measuredSteps > 1 ? [['spread', spreadText(r.stepTimeSpread)] as [string, string]] : []),
    ...(perRank
      ? [
        ['GPU busy', r.stages.map((s) => pct(s.utilization)).join(', ')] as [string, string],
        ['collectives', r.overlapFraction === null ? 'none' : `${ms(r.commMs)} ms per step, ${pct(r.overlapFraction)} hidden under compute`] as [string, string],
        ...(r.rankStraggler ? [['straggler', `rank ${r.rankStraggler.rank}, ${pct(r.rankStraggler.overMeanFraction)} over the mean compute`] as [string, string]] : []),
      ]
      : [
        ['bubble', `${pct(r.bubbleFraction)}: idle ${ms(r.idleMs)} ms + waiting for a peer ${ms(r.waitingMs)} ms per step; transfer ${ms(r.transferMs)} ms${r.analyticBubbleFraction !== null ? ` (analytic for ${p?.schedule ?? 'the schedule'} ${pct(r.analyticBubbleFraction)})` : ''}`] as [string, string],
        ['overlap', r.overlapFraction === null ? 'no communication' : `${pct(r.overlapFraction)} of ${ms(r.commMs)} ms (SEND/RECV: transfer only)`] as [string, string],
        ...(r.allreduceOverlapFraction === null ? [] : [['all-reduce', `${ms(r.allreduceMs)} ms per step, ${pct(r.allreduceOverlapFraction)} hidden`] as [string, string]]),
        ['straggler', `stage ${r.straggler.stage}, ${pct(r.straggler.overMeanFraction)} over the mean busy time`] as [string, string],
      ]),
    ['critical path', `step ${r.criticalPath.step}: ${r.criticalPath.label}`],
  ];
  const kinds: (BusyKind | 'KERNEL')[] = [...BUSY_KINDS, ...(r.stages.some((s) => s.busyMs.KERNEL !== undefined) ? ['KERNEL' as const] : [])];
  const stageRows = perRank
    ? r.stages.map((s) => `<tr><td>${s.stage}</td><td>${pct(s.utilization)}</td><td>${ms(s.busyMs.KERNEL ?? 0)}</td><td>${ms(s.commMs)}</td><td>${pct(s.overlapFraction)}</td></tr>`).join('\n')
    : r.stages.map((s) => `<tr><td>${s.stage}</td><td>${pct(s.utilization)}</td><td>${pct(s.bubbleFraction)}</td><td>${ms(s.idleMs)}</td><td>${ms(s.waitingMs)}</td><td>${ms(s.transferMs)}</td>${kinds.map((k) => `<td>${ms(s.busyMs[k] ?? 0)}</td>`).join('')}<td>${ms(s.commMs)}</td><td>${pct(s.overlapFraction)}</td><td>${bytes(s.peakMemoryBytes)}</td></tr>`).join('\n');
  const stageHead = perRank
    ? '<h2>Ranks</h2>\n<table><tr><th>row</th><th>GPU busy</th><th>kernel ms</th><th>collective ms</th><th>hidden</th></tr>'
    : `<h2>Stages</h2>\n<table><tr><th>stage</th><th>util</th><th>bubble</th><th>idle ms</th><th>wait ms</th><th>xfer ms</th>${kinds.map((k) => `<th>${k} ms</th>`).join('')}<th>comm ms</th><th>overlap</th><th>peak memory</th></tr>`;
  const rankRows = (r.ranks ?? []).map((k) => `<tr><td>${k.rank}</td><td>${pct(k.idleFraction)}</td><td>${pct(k.computeFraction)}</td><td>${pct(k.nonComputeFraction)}</td><td>${pct(k.commCompOverlap)}</td><td>${ms(k.spanUs / 1000)}</td></tr>`).join('\n');
  const layerRows = r.layers.map((l) => `<tr><td>${escapeHtml(l.layer)}</td><td>${escapeHtml(l.kind)}</td><td>${l.stage}</td><td>${l.fMs.toFixed(3)}</td><td>${l.bMs.toFixed(3)}</td><td>${l.rMs.toFixed(3)}</td><td>${l.params}</td><td>${l.activationBytesPerSample}</td><td>${escapeHtml(l.source)}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pipeprof report · ${escapeHtml(path.basename(file))}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 4px 16px; } dt { color: #666; } dd { margin: 0; word-break: break-word; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; } td:first-child, th:first-child { text-align: left; }
.chart { position: relative; height: 260px; } .key { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 8px; vertical-align: middle; }
#tip { min-height: 18px; color: #444; font-size: 12px; }
</style>
</head>
<body>
<h1>pipeprof report · ${escapeHtml(r.model ?? path.basename(file))}</h1>
<dl>
${summary.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n')}
</dl>
<h2>Step ${r.criticalPath.step} (${perRank ? 'one row per rank; thin strips: collectives and memory' : 'one row per stage; thin strips: send, receive'})</h2>
<div><canvas id="timeline"></canvas></div>
<div id="legend"></div>
<div id="tip"></div>
<h2>Time per ${perRank ? 'rank' : 'stage'}</h2>
<div class="chart"><canvas id="util"></canvas></div>
${hasLoss ? `<h2>Loss by step</h2>
<div class="chart"><canvas id="loss"></canvas></div>
<h2>Loss by wall-clock</h2>
<div class="chart"><canvas id="losstime"></canvas></div>
` : ''}${stageHead}
${stageRows}
</table>
${rankRows ? `<h2>Ranks (HTA temporal breakdown)</h2>
<table><tr><th>rank</th><th>idle</th><th>compute</th><th>non-compute</th><th>comm/comp overlap</th><th>span ms</th></tr>
${rankRows}
</table>
` : ''}${layerRows ? `<h2>Layers (per micro-batch)</h2>
<table><tr><th>layer</th><th>kind</th><th>stage</th><th>F ms</th><th>B ms</th><th>R ms</th><th>params</th><th>activation B/sample</th><th>source</th></tr>
${layerRows}
</table>` : ''}
<script type="application/json" id="pipeprof-data">${scriptJson(data)}</script>
<script nonce="${nonce}">
${chartJs}
</script>
<script nonce="${nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/** Reads, analyses and prints; writes the HTML page when asked. Input problems are UsageErrors (exit code 2). */
export async function reportCommand(input: string | string[], flags: ReportFlags, io: CliIO): Promise<Report> {
  const inputs = typeof input === 'string' ? [input] : input;
  const file = inputs.length === 1 ? inputs[0] : `${inputs[0]} (+${inputs.length - 1} rank files)`;
  if (flags.html !== undefined) {
    if (!flags.html) throw new UsageError(['--html needs a file name; e.g. --html report.html']);
    const read = [...(await expandInputs(inputs)), ...(flags.with ?? [])].map((f) => ({ flag: '', file: f }));
    checkOutputs([{ flag: '--html', file: flags.html }], read);
  }
  if (flags.with?.length && flags.html === undefined) throw new UsageError(['--with draws other runs\' loss curves in the HTML page; add --html report.html']);
  const timeline = await readInputs(io, inputs, { label: 'read' });
  // The other runs' loss curves (read before anything is printed, so a bad file costs nothing).
  const others: LossSeries[] = [];
  for (const f of flags.with ?? []) others.push(lossSeries(await readInputs(io, f, { quiet: true }), path.basename(f)));
  let report: Report;
  try {
    report = buildReport(timeline);
  } catch (e) {
    if (e instanceof AnalysisError) throw new UsageError([`${file}: ${e.message}`]);
    throw e;
  }
  if (flags.json) io.out(`${JSON.stringify(report)}\n`);
  else io.out(formatReport(report, file) + (gpuShare(timeline) ? formatGpuShare(gpuShare(timeline)!) : ''));
  if (flags.html !== undefined) {
    await writeOrKeep('--html', flags.html, renderHtml(report, timeline, file, chartJsSource(), undefined, others));
    if (!flags.json) io.out(`html        ${flags.html}\n`);
  }
  return report;
}

export function registerReport(program: Command, io: CliIO): void {
  program
    .command('report')
    .argument('<trace...>', 'a trace written by pipeprof capture, simulate or import (.pptrace.json, gzipped or not), or PyTorch profiler traces: one file per rank, or their folder')
    .description('analyse a trace: utilization, bubbles, overlap, critical path, straggler, memory, per-layer costs')
    .option('--json', 'print the report as one JSON object on stdout (default: off)')
    .option('--html <file>', 'also write a self-contained HTML page with charts (default: off)')
    .option('--with <traces...>', "other runs whose loss curves the HTML page draws beside this one's, by step and by wall-clock (default: none)")
    .action(async (files: string[], flags: ReportFlags) => {
      await reportCommand(files, flags, io);
    });
}
