// diffRuns: a hand-made pair with known numbers, a run against itself, simulated plans, different stage counts, missing plans and steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { change, diffRuns, opKindTotals } from '../../core/analysis/diff';
import { buildReport } from '../../core/analysis/report';
import { AnalysisError } from '../../core/analysis/utilization';
import type { Plan } from '../../core/plan/types';
import { simulate } from '../../core/simulate/simulate';
import type { OpRow, Timeline } from '../../core/trace/timeline';
import { OpTableBuilder } from '../../core/trace/timeline';
import { plan, summaries, unitCosts } from '../simulate/helpers';

/** A 2-stage timeline of one measured 10 ms step (µs below), and a warm-up step that must not count. */
function handMade(ops: Omit<OpRow, 'step' | 'lane'>[], p: Plan | null, opts: { batch?: number; memory?: number[] } = {}): Timeline {
  const b = new OpTableBuilder();
  for (const o of ops) b.push({ ...o, lane: o.kind === 'SEND' ? 1 : o.kind === 'RECV' ? 2 : 0, step: 1 });
  // A warm-up step of long F ops on both stages: excluded from every number.
  b.push({ kind: 'F', stage: 0, lane: 0, step: 0, start: -20_000, dur: 9_000 });
  b.push({ kind: 'F', stage: 1, lane: 0, step: 0, start: -20_000, dur: 9_000 });
  return {
    source: 'measured', status: 'complete', stages: 2, plan: p, batch: opts.batch ?? 8, model: { name: 'mlp', options: {}, loss: 'softmax-ce' },
    layers: [0, 1, 2, 3].map((i) => ({ name: `dense_${i}`, kind: 'dense', params: 0, flops: 0, activationBytes: 0 })), layerCosts: [],
    steps: [{ step: 0, startUs: -20_000, endUs: -10_000, loss: 1, warmup: true }, { step: 1, startUs: 0, endUs: 10_000, loss: 1, warmup: false }],
    ops: b.build(), memory: (opts.memory ?? [1000, 2000]).map((bytes, stage) => ({ stage, ts: 100, bytes })), backend: 'wasm', host: null,
  };
}

const P = (balance: number[], microbatches = 2): Plan => ({ balance, microbatches, schedule: 'gpipe', recompute: 'never', replicas: 1 });

// Run a: stage 0 busy 2 + 4 ms (F, B), stage 1 busy 3 + 5 ms, one SEND/RECV pair.
const A = () => handMade([
  { kind: 'F', stage: 0, start: 0, dur: 2000 },
  { kind: 'SEND', stage: 0, start: 2000, dur: 500, peer: 1 },
  { kind: 'RECV', stage: 1, start: 2000, dur: 500, peer: 0 },
  { kind: 'F', stage: 1, start: 2500, dur: 3000 },
  { kind: 'B', stage: 1, start: 5500, dur: 5000 - 500 },
  { kind: 'B', stage: 0, start: 6000, dur: 4000 },
], P([2, 2]));
// Run b: the same shape with stage 1's B halved and an R op, balance [1,3], batch 8, more memory on stage 1.
const B = () => handMade([
  { kind: 'F', stage: 0, start: 0, dur: 2000 },
  { kind: 'SEND', stage: 0, start: 2000, dur: 500, peer: 1 },
  { kind: 'RECV', stage: 1, start: 2000, dur: 500, peer: 0 },
  { kind: 'F', stage: 1, start: 2500, dur: 3000 },
  { kind: 'R', stage: 1, start: 5500, dur: 1000 },
  { kind: 'B', stage: 1, start: 6500, dur: 2000 },
  { kind: 'B', stage: 0, start: 6000, dur: 4000 },
], P([1, 3]), { memory: [1000, 3000] });

test('change: b − a and b / a; null where a side is missing, not finite or not comparable', () => {
  assert.deepEqual(change(2, 3), { a: 2, b: 3, delta: 1, ratio: 1.5 });
  assert.deepEqual(change(0, 3), { a: 0, b: 3, delta: 3, ratio: null });
  assert.deepEqual(change(null, 3), { a: null, b: 3, delta: null, ratio: null });
  assert.deepEqual(change(NaN, Infinity), { a: null, b: null, delta: null, ratio: null });
  assert.deepEqual(change(2, 3, false), { a: 2, b: 3, delta: null, ratio: null });
});

test('opKindTotals: per measured step, warm-up excluded, kinds in OP_KINDS order', () => {
  assert.deepEqual(opKindTotals(B()), [
    { kind: 'F', count: 2, totalMs: 5 },
    { kind: 'B', count: 2, totalMs: 6 },
    { kind: 'R', count: 1, totalMs: 1 },
    { kind: 'SEND', count: 1, totalMs: 0.5 },
    { kind: 'RECV', count: 1, totalMs: 0.5 },
  ]);
});

test('a hand-made pair: run totals, each stage, each op kind and the plan change, with known numbers', () => {
  const d = diffRuns(A(), B());
  assert.equal(d.version, 1);
  assert.deepEqual(d.stepTimeMs, { a: 10, b: 10, delta: 0, ratio: 1 });
  assert.deepEqual(d.samplesPerSec, { a: 800, b: 800, delta: 0, ratio: 1 });
  assert.equal(d.stagesComparable, true);
  assert.equal(d.stages.length, 2);
  const [s0, s1] = d.stages;
  assert.deepEqual(s0.layers, { a: [0, 1], b: [0, 0] });
  assert.deepEqual(s1.layers, { a: [2, 3], b: [1, 3] });
  assert.deepEqual(s0.utilization, { a: 0.6, b: 0.6, delta: 0, ratio: 1 });
  // Stage 1: busy 3 + 4.5 = 7.5 ms in a; 3 + 1 + 2 = 6 ms in b.
  assert.deepEqual(s1.busyTotalMs, { a: 7.5, b: 6, delta: -1.5, ratio: 0.8 });
  assert.deepEqual(s1.busyMs.B, { a: 4.5, b: 2, delta: -2.5, ratio: 2 / 4.5 });
  assert.deepEqual(s1.busyMs.R, { a: 0, b: 1, delta: 1, ratio: null });
  assert.ok(Math.abs(s1.bubbleFraction.delta! - 0.15) < 1e-12);
  assert.deepEqual(s1.peakMemoryBytes, { a: 2000, b: 3000, delta: 1000, ratio: 1.5 });
  assert.deepEqual(d.busyKinds, ['F', 'B', 'W', 'R', 'OPT', 'COMPRESS', 'DECOMPRESS']);
  assert.deepEqual(d.kinds.map((k) => k.kind), ['F', 'B', 'R', 'SEND', 'RECV']);
  const byKind = Object.fromEntries(d.kinds.map((k) => [k.kind, k]));
  assert.deepEqual(byKind.B.totalMs, { a: 8.5, b: 6, delta: -2.5, ratio: 6 / 8.5 });
  assert.deepEqual(byKind.B.meanMs, { a: 4.25, b: 3, delta: -1.25, ratio: 3 / 4.25 });
  // R occurs only in b: counted 0 in a, its mean there unknown.
  assert.deepEqual(byKind.R.count, { a: 0, b: 1, delta: 1, ratio: null });
  assert.deepEqual(byKind.R.meanMs, { a: null, b: 1, delta: null, ratio: null });
  assert.deepEqual(d.plan, { known: true, same: false, changes: [{ field: 'balance', a: [2, 2], b: [1, 3] }] });
  assert.deepEqual(d.straggler.a, { stage: 1, busyMs: 7.5, overMeanFraction: 7.5 / 6.75 - 1 });
  assert.deepEqual(d.notes, []);
  // The deltas are those of the two reports: nothing is recomputed differently.
  const ra = buildReport(A());
  const rb = buildReport(B());
  assert.equal(d.bubbleFraction.delta, rb.bubbleFraction - ra.bubbleFraction);
  assert.equal(d.overlapFraction.a, ra.overlapFraction);
  // The whole object survives JSON unchanged (no NaN, no Infinity, no undefined).
  assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
});

test('a run against itself: every delta 0, every ratio 1 (or null on a 0), the same plan, no note', () => {
  const t = simulate({ plan: plan([2, 2], 4, 'gpipe'), batch: 8, costs: unitCosts(4), layers: summaries(unitCosts(4)), steps: 2 });
  const d = diffRuns(t, t);
  assert.deepEqual(d.plan, { known: true, same: true, changes: [] });
  assert.deepEqual(d.notes, []);
  const changes = [d.stepTimeMs, d.samplesPerSec, d.bubbleFraction, ...d.stages.flatMap((s) => [s.utilization, s.busyTotalMs, s.commMs, ...Object.values(s.busyMs)]), ...d.kinds.flatMap((k) => [k.count, k.totalMs, k.meanMs])];
  for (const c of changes) {
    if (c.a === null) continue;
    assert.equal(c.delta, 0);
    assert.ok(c.ratio === 1 || (c.a === 0 && c.ratio === null), JSON.stringify(c));
  }
});

test('simulated plans: op counts follow the micro-batches, and the plan change names each field', () => {
  const costs = unitCosts(4);
  const run = (p: Plan) => simulate({ plan: p, batch: 8, costs, layers: summaries(costs), steps: 2 });
  const d = diffRuns(run(plan([2, 2], 2, 'gpipe')), run(plan([1, 3], 4, '1f1b', 'always')));
  const byKind = Object.fromEntries(d.kinds.map((k) => [k.kind, k]));
  // S × M forwards and backwards per step: 4 → 8; recompute always adds R ops only to b.
  assert.deepEqual([byKind.F.count.a, byKind.F.count.b], [4, 8]);
  assert.deepEqual([byKind.B.count.a, byKind.B.count.b], [4, 8]);
  assert.deepEqual([byKind.R.count.a, byKind.R.count.b], [0, 8]);
  assert.deepEqual(d.plan.changes.map((c) => c.field), ['balance', 'microbatches', 'schedule', 'recompute']);
  assert.deepEqual(d.analyticBubbleFraction.a, 1 / 3);
  assert.equal(d.stepTimeMs.delta, buildReport(run(plan([1, 3], 4, '1f1b', 'always'))).stepTimeMs - buildReport(run(plan([2, 2], 2, 'gpipe'))).stepTimeMs);
});

test('different stage counts: run totals and op kinds compare, stage rows stand side by side without deltas, a note says why', () => {
  const costs = unitCosts(4);
  const run = (p: Plan) => simulate({ plan: p, batch: 8, costs, layers: summaries(costs), steps: 2 });
  const d = diffRuns(run(plan([2, 2], 2)), run(plan([1, 1, 2], 2)));
  assert.equal(d.stagesComparable, false);
  assert.equal(d.stages.length, 3);
  assert.notEqual(d.stepTimeMs.delta, null);
  assert.notEqual(d.kinds[0].count.delta, null);
  for (const s of d.stages) for (const c of [s.utilization, s.busyTotalMs, ...Object.values(s.busyMs)]) assert.equal(c.delta, null);
  assert.equal(d.stages[0].utilization.a !== null && d.stages[0].utilization.b !== null, true);
  assert.deepEqual(d.stages[2].layers, { a: null, b: [2, 3] });
  assert.equal(d.stages[2].utilization.a, null);
  assert.deepEqual(d.plan.changes.map((c) => c.field), ['stages', 'balance']);
  assert.equal(d.notes.length, 1);
  assert.match(d.notes[0], /^the runs have different stage counts \(a: 2, b: 3\)/);
});

test('notes: no plan, another model, another batch, a failed run; a timeline without steps is an AnalysisError', () => {
  const other = handMade([{ kind: 'F', stage: 0, start: 0, dur: 1000 }, { kind: 'F', stage: 1, start: 1000, dur: 1000 }], null, { batch: 16 });
  other.model = { name: 'transformer', options: {}, loss: 'softmax-ce' };
  other.status = 'failed';
  const d = diffRuns(A(), other);
  assert.deepEqual(d.plan, { known: false, same: false, changes: [] });
  assert.equal(d.notes.length, 4, d.notes.join('\n'));
  assert.match(d.notes.join('\n'), /different models \(a: mlp with 4 layers, b: transformer with 4\)/);
  assert.match(d.notes.join('\n'), /batch sizes differ \(a: 8, b: 16\)/);
  assert.match(d.notes.join('\n'), /run b failed: only the 1 step\(s\) it completed are compared/);
  assert.match(d.notes.join('\n'), /run b records no plan/);
  const empty = { ...A(), steps: [] };
  assert.throws(() => diffRuns(A(), empty), AnalysisError);
});
