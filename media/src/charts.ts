// Chart configurations as pure functions of the view model (tests call them without a DOM); chart-view.ts renders them.
import type { ChartConfiguration } from 'chart.js';
import type { Report } from '../../core/analysis/report';
import type { RunView } from './protocol';
import { KINDS } from './protocol';
import { label } from './text';
import { KIND_COLORS } from './palette';

export type Kind = (typeof KINDS)[number];

/** Colours by op kind plus idle, and the text and grid colours: read from the theme's CSS variables by the view. */
export type Palette = Record<Kind | 'idle' | 'foreground' | 'grid', string>;

/** The op kinds' colours (the one palette, media/src/palette.ts) with dark-theme defaults for idle, text and grid (used when a CSS variable is missing, and in tests). */
export const DEFAULT_PALETTE: Palette = {
  ...KIND_COLORS,
  idle: 'rgba(139, 139, 139, 0.35)',
  foreground: '#cccccc',
  grid: 'rgba(204, 204, 204, 0.15)',
};

/** Compute kinds in the order bars stack (KERNEL: a PyTorch trace's kernels); communication has its own lanes and is not part of utilization. */
export const BUSY_KINDS = ['F', 'B', 'W', 'R', 'OPT', 'COMPRESS', 'DECOMPRESS', 'KERNEL'] as const;

const KIND_TITLES: Record<Kind, string> = {
  F: 'forward', B: 'backward', W: 'weight grad', R: 'recompute', SEND: 'send', RECV: 'receive', ALLREDUCE: 'all-reduce', OPT: 'optimizer',
  KERNEL: 'GPU kernel', COMM: 'collective (NCCL)', MEMCPY: 'memory copy', MEMSET: 'memory set', SYNC: 'stream or event wait',
  COMPRESS: 'gradient compression', DECOMPRESS: 'gradient decompression',
};
export const kindTitle = (k: Kind): string => KIND_TITLES[k];

function axes(p: Palette, yTitle: string, stacked: boolean, max?: number) {
  const tick = { color: p.foreground };
  return {
    x: { stacked, ticks: tick, grid: { color: p.grid } },
    y: { stacked, beginAtZero: true, max, ticks: tick, grid: { color: p.grid }, title: { display: true, text: yTitle, color: p.foreground } },
  };
}

/**
 * Per-stage stacked bars, in % of the (median) step: busy time by compute kind (F, B, W, R, OPT; kinds no stage ran
 * are left out) then the bubble; each bar adds up to 100% when utilization + bubble cover the step.
 */
export function toUtilizationChart(report: Report, palette: Palette = DEFAULT_PALETTE): ChartConfiguration<'bar', number[], string> {
  const stages = report.stages ?? [];
  const labels = stages.map((s) => `stage ${label(s.stage)}`);
  const share = (s: Report['stages'][number], k: (typeof BUSY_KINDS)[number]) =>
    s.busyTotalMs > 0 ? (100 * s.utilization * (s.busyMs?.[k] ?? 0)) / s.busyTotalMs : 0;
  const datasets = BUSY_KINDS.filter((k) => stages.some((s) => (s.busyMs?.[k] ?? 0) > 0)).map((k) => ({
    label: kindTitle(k),
    data: stages.map((s) => round(share(s, k))),
    backgroundColor: palette[k],
    stack: 'step',
  }));
  // The bubble split (core/analysis/bubbles.ts): idle, and waiting in SEND/RECV for a peer; then the exposed wire time.
  const waitShare = (s: Report['stages'][number]) => ((s.bubbleMs ?? 0) > 0 ? ((s.bubbleFraction ?? 0) * (s.waitingMs ?? 0)) / s.bubbleMs : 0);
  const wireShare = (s: Report['stages'][number]) =>
    s.perStep?.length ? s.perStep.reduce((a, x) => a + (x.stepMs > 0 ? (x.transferMs + x.collectiveMs) / x.stepMs : 0), 0) / s.perStep.length : 0;
  const waiting = stages.some((s) => waitShare(s) > 0);
  datasets.push({ label: waiting ? 'bubble: idle' : 'bubble', data: stages.map((s) => round(100 * ((s.bubbleFraction ?? 0) - waitShare(s)))), backgroundColor: palette.idle, stack: 'step' });
  if (waiting) datasets.push({ label: 'bubble: waiting for a peer', data: stages.map((s) => round(100 * waitShare(s))), backgroundColor: palette.RECV, stack: 'step' });
  if (stages.some((s) => wireShare(s) > 0)) datasets.push({ label: 'transfer and collectives (exposed)', data: stages.map((s) => round(100 * wireShare(s))), backgroundColor: palette.SEND, stack: 'step' });
  return {
    type: 'bar',
    data: { labels, datasets },
    options: {
      ...baseOptions(palette, `Utilization and bubble per stage (median step ${round(report.stepTimeMs)} ms)`),
      scales: axes(palette, '% of step time', true, 100),
    },
  };
}

/** What every chart shares: no animation, fills its box, a title and legend in the theme's foreground colour. */
function baseOptions(palette: Palette, title: string) {
  return {
    animation: false as const,
    responsive: true,
    maintainAspectRatio: false,
    plugins: {
      title: { display: true, text: title, color: palette.foreground },
      legend: { labels: { color: palette.foreground } },
    },
  };
}

/** Loss per step: measured steps as one line, warm-up steps as a second, dashed one; steps without a loss are gaps. */
export function toLossChart(steps: RunView['steps'], palette: Palette = DEFAULT_PALETTE): ChartConfiguration<'line', (number | null)[], string> {
  const sorted = (steps ?? []).slice().sort((a, b) => a.step - b.step);
  const labels = sorted.map((s) => label(s.step));
  const value = (s: RunView['steps'][number]) => (typeof s.loss === 'number' && Number.isFinite(s.loss) ? s.loss : null);
  const measured = sorted.map((s) => (s.warmup ? null : value(s)));
  const warmup = sorted.map((s, i) => {
    // The warm-up line runs up to the first measured step so the two join.
    const joins = !s.warmup && i > 0 && sorted[i - 1].warmup;
    return s.warmup || joins ? value(s) : null;
  });
  const datasets = [{ label: 'loss', data: measured, borderColor: palette.F, backgroundColor: palette.F, spanGaps: false, pointRadius: 2, borderDash: [] as number[] }];
  if (sorted.some((s) => s.warmup && value(s) !== null))
    datasets.push({ label: 'loss (warm-up)', data: warmup, borderColor: palette.idle, backgroundColor: palette.idle, spanGaps: false, pointRadius: 2, borderDash: [4, 4] });
  return {
    type: 'line',
    data: { labels, datasets },
    options: {
      ...baseOptions(palette, 'Loss per step'),
      scales: {
        x: { ticks: { color: palette.foreground }, grid: { color: palette.grid }, title: { display: true, text: 'step', color: palette.foreground } },
        y: { ticks: { color: palette.foreground }, grid: { color: palette.grid }, title: { display: true, text: 'loss', color: palette.foreground } },
      },
    },
  };
}

/** Whether a loss chart has anything to show. */
export const hasLoss = (steps: RunView['steps']): boolean => (steps ?? []).some((s) => typeof s.loss === 'number' && Number.isFinite(s.loss));

const round = (x: number, digits = 2): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : 0);
