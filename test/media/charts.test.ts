// Chart configurations built without a DOM: per-stage utilization and bubble bars, loss curve; plain data, theme colours.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DEFAULT_PALETTE, hasLoss, toLossChart, toUtilizationChart } from '../../media/src/charts';
import type { Palette } from '../../media/src/charts';
import type { Report } from '../../core/analysis/report';
import type { RunView } from '../../media/src/protocol';
import { syntheticRun } from './harness';

/** A report with just what the utilization chart reads. */
function report(stages: { busy: Partial<Record<'F' | 'B' | 'W' | 'R' | 'OPT', number>>; stepMs: number }[]): Report {
  return {
    stepTimeMs: stages[0].stepMs,
    stages: stages.map((s, i) => {
      const busyMs = { F: 0, B: 0, W: 0, R: 0, OPT: 0, ...s.busy };
      const total = Object.values(busyMs).reduce((a, b) => a + b, 0);
      return { stage: i, busyMs, busyTotalMs: total, utilization: total / s.stepMs, bubbleFraction: 1 - total / s.stepMs };
    }),
  } as unknown as Report;
}

test('toUtilizationChart: one stacked bar per stage, busy kinds that occur then the bubble, in % of the step', () => {
  const cfg = toUtilizationChart(report([{ busy: { F: 20, B: 40, OPT: 10 }, stepMs: 100 }, { busy: { F: 30, B: 50, OPT: 5 }, stepMs: 100 }]));
  assert.equal(cfg.type, 'bar');
  assert.deepEqual(cfg.data.labels, ['stage 0', 'stage 1']);
  assert.deepEqual(cfg.data.datasets.map((d) => d.label), ['forward', 'backward', 'optimizer', 'bubble'], 'W and R never ran: left out');
  assert.deepEqual(cfg.data.datasets.map((d) => d.data), [[20, 30], [40, 50], [10, 5], [30, 15]]);
  for (let s = 0; s < 2; s++) assert.equal(cfg.data.datasets.reduce((a, d) => a + d.data[s], 0), 100);
  assert.deepEqual(cfg.data.datasets.map((d) => d.backgroundColor), [DEFAULT_PALETTE.F, DEFAULT_PALETTE.B, DEFAULT_PALETTE.OPT, DEFAULT_PALETTE.idle]);
  const scales = cfg.options?.scales as Record<string, { stacked?: boolean; max?: number }>;
  assert.equal(scales.x.stacked, true);
  assert.equal(scales.y.max, 100);
});

test('toUtilizationChart takes the theme colours it is given', () => {
  const palette: Palette = { ...DEFAULT_PALETTE, F: 'rgb(1, 2, 3)', idle: '#abcdef', foreground: '#010101' };
  const cfg = toUtilizationChart(report([{ busy: { F: 50 }, stepMs: 100 }]), palette);
  assert.deepEqual(cfg.data.datasets.map((d) => d.backgroundColor), ['rgb(1, 2, 3)', '#abcdef']);
  assert.equal((cfg.options?.plugins?.title as { color?: string }).color, '#010101');
});

test('toUtilizationChart on a real report (a simulated 1f1b run) sums each stage to about 100%', () => {
  const run = syntheticRun(3000, { stages: 3, microbatches: 4 });
  const cfg = toUtilizationChart(run.report);
  assert.equal(cfg.data.labels?.length, 3);
  for (let s = 0; s < 3; s++) {
    const sum = cfg.data.datasets.reduce((a, d) => a + d.data[s], 0);
    assert.ok(Math.abs(sum - 100) < 1, `stage ${s}: ${sum}%`);
  }
});

test('toLossChart: steps in order, warm-up as a second dashed line that joins the first, missing losses as gaps', () => {
  const steps: RunView['steps'] = [
    { step: 2, start: 20, end: 30, loss: 2.5, warmup: false },
    { step: 0, start: 0, end: 10, loss: 3, warmup: true },
    { step: 1, start: 10, end: 20, loss: 2.8, warmup: true },
    { step: 3, start: 30, end: 40, loss: null, warmup: false },
    { step: 4, start: 40, end: 50, loss: 2.1, warmup: false },
  ];
  const cfg = toLossChart(steps);
  assert.equal(cfg.type, 'line');
  assert.deepEqual(cfg.data.labels, ['0', '1', '2', '3', '4']);
  const [measured, warmup] = cfg.data.datasets;
  assert.deepEqual(measured.data, [null, null, 2.5, null, 2.1]);
  assert.deepEqual(warmup.data, [3, 2.8, 2.5, null, null]);
  assert.deepEqual((warmup as { borderDash?: number[] }).borderDash, [4, 4]);
  assert.equal(measured.spanGaps, false);
});

test('toLossChart without warm-up has a single line; hasLoss tells an empty curve', () => {
  const steps: RunView['steps'] = [{ step: 0, start: 0, end: 1, loss: 1, warmup: false }];
  assert.equal(toLossChart(steps).data.datasets.length, 1);
  assert.equal(hasLoss(steps), true);
  assert.equal(hasLoss([{ step: 0, start: 0, end: 1, loss: null, warmup: false }]), false);
  assert.equal(hasLoss([]), false);
});

test('chart configurations are plain data (they survive JSON unchanged: no functions, no DOM)', () => {
  const run = syntheticRun(2000, { stages: 2, microbatches: 4 });
  for (const cfg of [toUtilizationChart(run.report), toLossChart(run.steps)]) assert.deepEqual(JSON.parse(JSON.stringify(cfg)), cfg);
});

test('toUtilizationChart splits the bubble into idle and waiting for a peer, and shows the exposed transfer, summing to 100%', () => {
  // A 100 ms step: 60 ms compute, 10 ms idle, 25 ms waiting in RECV, 5 ms transfer on the wire.
  const r = {
    stepTimeMs: 100,
    stages: [{
      stage: 0, busyMs: { F: 20, B: 40, W: 0, R: 0, OPT: 0 }, busyTotalMs: 60, utilization: 0.6, bubbleFraction: 0.35, bubbleMs: 35, idleMs: 10, waitingMs: 25, transferMs: 5, collectiveMs: 0,
      perStep: [{ step: 1, stepMs: 100, computeMs: 60, waitingMs: 25, transferMs: 5, collectiveMs: 0, idleMs: 10 }],
    }],
  } as unknown as Report;
  const cfg = toUtilizationChart(r);
  assert.deepEqual(cfg.data.datasets.map((d) => d.label), ['forward', 'backward', 'bubble: idle', 'bubble: waiting for a peer', 'transfer and collectives (exposed)']);
  assert.deepEqual(cfg.data.datasets.map((d) => d.data[0]), [20, 40, 10, 25, 5]);
  assert.deepEqual(cfg.data.datasets.slice(2).map((d) => d.backgroundColor), [DEFAULT_PALETTE.idle, DEFAULT_PALETTE.RECV, DEFAULT_PALETTE.SEND]);
});
