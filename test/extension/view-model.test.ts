// The webview's view model from a real captured trace: columns, rows, steps, the report, predictions, previews, sampling and the compare load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timelineFromTrace } from '../../core/trace/import';
import type { Timeline } from '../../core/trace/timeline';
import { OP_KINDS, OpTableBuilder } from '../../core/trace/timeline';
import { buildReport } from '../../core/analysis/report';
import { KINDS } from '../../media/src/protocol';
import type { RunView } from '../../media/src/protocol';
import { MAX_VIEW_OPS, SAMPLED_NOTICE, compareMessage, runView, sampleOps, summarizeDiff, summarizeRun } from '../../extension/view-model';
import { diffRuns } from '../../core/analysis/diff';
import { calibrate } from '../../core/simulate/calibrate';
import { simulate } from '../../core/simulate/simulate';
import { loadMessage, loadTraceSession, planAt, previewPlan, sessionFromTimeline } from '../../extension/trace-session';
import { realTrace, traceFile } from './fixture';
import { timelineFromKineto } from '../../core/trace/kineto';
import { readFixture, readRank } from '../trace/kineto-read';
import { ppRun } from '../fixtures/kineto-pp';

async function timeline(): Promise<Timeline> {
  return timelineFromTrace(JSON.parse(JSON.stringify(await realTrace())), 'run.pptrace.json');
}

/** Every op of a view lies inside its span, on a known row, with a kind the protocol names. */
function checkView(v: RunView): void {
  const n = v.ops.kind.length;
  for (const col of Object.values(v.ops)) assert.equal(col.length, n);
  for (let i = 0; i < n; i++) {
    assert.ok(v.ops.kind[i] < KINDS.length);
    assert.ok(v.ops.row[i] >= 0 && v.ops.row[i] < v.rows.length, `row ${v.ops.row[i]}`);
    assert.ok(v.ops.start[i] >= 0 && v.ops.start[i] + v.ops.dur[i] <= v.spanMs + 1e-9, `op ${i} outside the span`);
  }
}

test("the protocol's KINDS are core's op kinds, in the same order", () => {
  assert.deepEqual([...KINDS], [...OP_KINDS]);
});

test('a real trace: one row per stage named as the capture names them, every op in ms from the start, the full report', async () => {
  const t = await timeline();
  const v = runView(t, 'run.pptrace.json');
  assert.equal(v.source, 'measured');
  assert.equal(v.title, 'run.pptrace.json');
  assert.deepEqual(v.rows, ['stage 0 · layers 0–1', 'stage 1 · layers 2–3']);
  assert.equal(v.sampled, false);
  assert.equal(v.ops.kind.length, t.ops.length);
  checkView(v);
  // Columns carry the timeline's ops in its order, µs → ms.
  const t0 = Math.min(t.ops.start[0], t.steps[0].startUs);
  for (const i of [0, 7, t.ops.length - 1]) {
    assert.equal(KINDS[v.ops.kind[i]], OP_KINDS[t.ops.kind[i]]);
    assert.equal(v.ops.row[i], t.ops.stage[i]);
    assert.equal(v.ops.start[i], (t.ops.start[i] - t0) / 1000);
    assert.equal(v.ops.dur[i], t.ops.dur[i] / 1000);
    assert.equal(v.ops.microbatch[i], t.ops.microbatch[i]);
    assert.equal(v.ops.step[i], t.ops.step[i]);
  }
  const kinds = new Set(Array.from(v.ops.kind, (k) => KINDS[k]));
  for (const k of ['F', 'B', 'SEND', 'RECV', 'OPT']) assert.ok(kinds.has(k as (typeof KINDS)[number]), `no ${k} op`);
  // 1 warm-up step and 3 measured ones, with their losses.
  assert.deepEqual(v.steps.map((s) => s.warmup), [true, false, false, false]);
  assert.ok(v.steps.every((s, i) => s.end > s.start && (i === 0 || s.start >= v.steps[i - 1].end - 1e-9) && typeof s.loss === 'number'));
  assert.deepEqual(v.report, buildReport(t));
  assert.ok(v.report.stepTimeMs > 0);
  assert.deepEqual(summarizeRun(v), {
    source: 'measured', title: 'run.pptrace.json', rows: v.rows, ops: t.ops.length, steps: 4, spanMs: v.spanMs,
    stepTimeMs: v.report.stepTimeMs, bubbleFraction: v.report.bubbleFraction, sampled: false,
  });
});

test('a session: the traced plan predicted, five ranked plans, previews; the load message carries them all', async () => {
  const file = await traceFile('run.pptrace.json.gz');
  const s = await loadTraceSession(file);
  assert.equal(s.notice, undefined);
  assert.ok(s.predicted);
  assert.equal(s.predicted.source, 'predicted');
  assert.match(s.predicted.title, /^predicted · balance \[2,2\], 4 micro-batches, gpipe, recompute never$/);
  assert.deepEqual(s.predicted.rows, s.measured.rows);
  checkView(s.predicted);
  assert.ok(s.recommendations.length >= 1 && s.recommendations.length <= 5);
  assert.deepEqual(s.recommendations.map((r) => r.rank), s.recommendations.map((_, i) => i + 1));
  for (const [i, r] of s.recommendations.entries()) {
    assert.deepEqual(r.balance, s.plans[i].balance);
    assert.equal(r.balance.reduce((a, b) => a + b, 0), 4);
    assert.ok(r.predictedStepTimeMs > 0 && r.speedup > 0 && r.peakMemoryBytes > 0);
  }
  const load = loadMessage(s);
  assert.equal(load.type, 'load');
  assert.equal(load.file, file);
  assert.equal(load.measured, s.measured);
  assert.equal('notice' in load, false);

  const p = previewPlan(s, 1);
  assert.equal(p.source, 'predicted');
  assert.match(p.title, /^#1 \S+ · predicted · balance \[\d,\d\], \d+ micro-batches/);
  assert.equal(p.rows.length, s.recommendations[0].balance.length);
  checkView(p);
  // The preview's step time is the plan's prediction before scaling to the measurement: same order of magnitude.
  assert.ok(p.report.stepTimeMs > 0);
  assert.throws(() => planAt(s, 0), /no plan ranked 0 for run\.pptrace\.json\.gz: ranks are 1 to \d/);
  assert.throws(() => previewPlan(s, 99), /no plan ranked 99/);
  // An interleaved plan previews as Apply writes it: 4 virtual stages on 2 workers (chunks kept), not 4 stages.
  const inter = { ...s.plans[0], balance: [1, 1, 1, 1], chunks: 2, schedule: 'interleaved-1f1b' as const, microbatches: 2, recompute: 'never' as const };
  const iv = previewPlan({ ...s, plans: [inter] }, 1);
  assert.equal(iv.rows.length, 2);
  const direct = buildReport(simulate({ plan: { balance: [1, 1, 1, 1], chunks: 2, schedule: 'interleaved-1f1b', microbatches: 2, recompute: 'never', replicas: 1 }, batch: s.timeline.batch!, costs: s.costs!, layers: s.timeline.layers }));
  assert.ok(Math.abs(iv.report.stepTimeMs - direct.stepTimeMs) < 1e-6 * direct.stepTimeMs, `${iv.report.stepTimeMs} vs ${direct.stepTimeMs}`);
});

test('a trace that cannot be calibrated still opens: no prediction, no plans, a notice saying why', async () => {
  const tr = JSON.parse(JSON.stringify(await realTrace()));
  delete tr.pipeprof.run;
  const s = sessionFromTimeline(timelineFromTrace(tr, 'x.pptrace.json'), 'x.pptrace.json');
  assert.equal(s.predicted, null);
  assert.deepEqual(s.recommendations, []);
  assert.match(s.notice!, /^no prediction or recommendation: x\.pptrace\.json: the trace does not record its batch size/);
  assert.throws(() => planAt(s, 1), /no ranked plans for x\.pptrace\.json/);
  // A plain Chrome trace without a pipeprof block: no plan, rows named by stage only.
  const plain = { traceEvents: tr.traceEvents };
  const p = sessionFromTimeline(timelineFromTrace(plain, 'plain.json'), 'plain.json');
  assert.deepEqual(p.measured.rows, ['stage 0', 'stage 1']);
  assert.equal(p.predicted, null);
  assert.match(p.notice!, /the trace has no plan/);
});

test('past the op limit, whole steps are kept, spread over the run, and the view says it is sampled', async () => {
  const t = await timeline();
  const perStep = Math.max(...[0, 1, 2, 3].map((s) => t.ops.step.filter((x) => x === s).length));
  const { index, steps } = sampleOps(t, 2 * perStep);
  assert.deepEqual([...steps!].sort(), [0, 3], 'first and last step');
  assert.equal(index!.length, [...t.ops.step].filter((s) => s === 0 || s === 3).length, 'every op of a kept step');
  const v = runView(t, 'r', { maxOps: 2 * perStep });
  assert.equal(v.sampled, true);
  assert.deepEqual(v.steps.map((s) => s.step), [0, 3]);
  assert.ok(v.ops.kind.length <= 2 * perStep);
  checkView(v);
  assert.deepEqual(v.report, buildReport(t), 'the report still covers every op');
  const s = sessionFromTimeline(t, 'r.pptrace.json', { maxOps: 2 * perStep });
  assert.equal(s.notice, SAMPLED_NOTICE);
  // One step bigger than the limit: every k-th op of the first step.
  const one = runView(t, 'r', { maxOps: Math.floor(perStep / 3) });
  assert.ok(one.sampled && one.ops.kind.length <= Math.floor(perStep / 3) && one.ops.kind.length > 0);
  assert.ok(Array.from(one.ops.step).every((x) => x === 0));
});

test(`a trace of more than ${MAX_VIEW_OPS} ops is sampled under the limit`, () => {
  const steps = 120;
  const perStep = 1800;
  const b = new OpTableBuilder();
  const stepRecs = [];
  for (let st = 0; st < steps; st++) {
    const t0 = st * 2000;
    for (let i = 0; i < perStep; i++) b.push({ kind: i % 2 ? 'B' : 'F', stage: i % 2, lane: 0, microbatch: i >> 1, step: st, start: t0 + i, dur: 0.5 });
    stepRecs.push({ step: st, startUs: t0, endUs: t0 + perStep, loss: 1, warmup: false });
  }
  const t: Timeline = {
    source: 'measured', status: 'complete', stages: 2, plan: { balance: [1, 1], microbatches: perStep / 2, schedule: 'gpipe', recompute: 'never', replicas: 1 },
    batch: perStep / 2, model: null, layers: [], layerCosts: [], steps: stepRecs, ops: b.build(), memory: [], backend: null, host: null,
  };
  assert.ok(t.ops.length > MAX_VIEW_OPS);
  const v = runView(t, 'big');
  assert.equal(v.sampled, true);
  assert.ok(v.ops.kind.length <= MAX_VIEW_OPS && v.ops.kind.length > MAX_VIEW_OPS / 2, `${v.ops.kind.length} ops`);
  assert.equal(v.steps.length, Math.floor(MAX_VIEW_OPS / perStep));
  assert.equal(v.steps[0].step, 0);
  assert.equal(v.steps[v.steps.length - 1].step, steps - 1);
  assert.equal(sessionFromTimeline(t, 'big.json').notice?.startsWith(SAMPLED_NOTICE), true);
});

test('Compare Two Traces: a as measured, b as predicted, and the diff of b against a from the same reports', async () => {
  const a = await timeline();
  // b: the captured run's model predicted for another balance and micro-batch count.
  const b = simulate({ plan: { ...a.plan!, balance: [1, 3], microbatches: 8 }, batch: a.batch!, costs: calibrate(a), layers: a.layers, steps: 2, model: a.model });
  const m = compareMessage(a, b, 'run.pptrace.json', 'other.pptrace.json');
  assert.equal(m.type, 'load');
  assert.equal(m.file, 'run.pptrace.json');
  assert.deepEqual(m.recommendations, []);
  assert.equal('notice' in m, false);
  assert.equal(m.measured.title, 'run.pptrace.json');
  assert.equal(m.predicted!.title, 'other.pptrace.json');
  assert.equal(m.predicted!.source, 'predicted');
  checkView(m.measured);
  checkView(m.predicted!);
  // The diff is core's, from the reports the views carry.
  assert.deepEqual(m.diff, diffRuns(a, b));
  assert.equal(m.diff!.stepTimeMs.a, m.measured.report.stepTimeMs);
  assert.equal(m.diff!.stepTimeMs.b, m.predicted!.report.stepTimeMs);
  assert.deepEqual(m.diff!.plan.changes.map((c) => c.field), ['balance', 'microbatches']);
  assert.equal(m.diff!.stages.length, 2);
  // It crosses postMessage as plain data.
  assert.deepEqual(structuredClone(m.diff), m.diff);
  assert.deepEqual(JSON.parse(JSON.stringify(m.diff)), m.diff);
  assert.deepEqual(summarizeDiff(m.diff!), {
    stages: 2, stagesComparable: true, kinds: m.diff!.kinds.map((k) => k.kind), busyKinds: ['F', 'B', 'W', 'R', 'OPT', 'COMPRESS', 'DECOMPRESS'],
    stepTimeMs: { a: m.diff!.stepTimeMs.a, b: m.diff!.stepTimeMs.b, delta: m.diff!.stepTimeMs.delta }, planChanges: ['balance', 'microbatches'], notes: [],
  });
  for (const k of ['F', 'B', 'SEND', 'RECV', 'OPT']) assert.ok(summarizeDiff(m.diff!).kinds.includes(k), k);
  // A 3-stage b: still a load, the diff says the stages do not compare; sampling is noticed as in a trace view.
  const three = simulate({ plan: { ...a.plan!, balance: [1, 1, 2] }, batch: a.batch!, costs: calibrate(a), layers: a.layers, steps: 2 });
  const m3 = compareMessage(a, three, 'a', 'b', { maxOps: 10 });
  assert.equal(m3.diff!.stagesComparable, false);
  assert.equal(m3.diff!.stages.length, 3);
  assert.equal(m3.notice, SAMPLED_NOTICE);
});

test('a PyTorch (Kineto) run: every kind maps into the protocol, rows are named by rank', () => {
  const dp = runView(timelineFromKineto(['dp128-rank0.json.gz', 'dp128-rank1.json.gz'].map((f) => readFixture(f))).timeline, 'dp128');
  checkView(dp);
  assert.deepEqual(dp.rows, ['rank 0', 'rank 1']);
  assert.ok(['KERNEL', 'COMM', 'MEMCPY', 'MEMSET'].every((k) => Array.from(dp.ops.kind).includes(KINDS.indexOf(k as (typeof KINDS)[number]))));
  const run = ppRun({ stages: 2, microbatches: 2, schedule: '1f1b', steps: 1 });
  const pp = runView(timelineFromKineto(run.ranks.map((r, i) => readRank(r, `r${i}.json`))).timeline, 'pp');
  checkView(pp);
  assert.deepEqual(pp.rows, ['rank 0 · stage 0', 'rank 1 · stage 1']);
});

test('a run too big to analyse whole is sampled to whole steps spread over it, with a notice; a small one is left alone', async () => {
  const { sampleTimeline } = await import('../../extension/view-model');
  const { syntheticTimeline } = await import('../media/harness');
  const t = syntheticTimeline({ events: 60_000, stages: 4, microbatches: 8 });
  assert.equal(sampleTimeline(t, 100_000), null);
  const s = sampleTimeline(t, 10_000)!;
  assert.ok(s.timeline.ops.length <= 10_000 && s.timeline.ops.length > 5_000, String(s.timeline.ops.length));
  const kept = new Set(s.timeline.steps.map((x) => x.step));
  assert.ok(kept.size > 1 && kept.has(t.steps[0].step), 'the first step and others');
  for (let i = 0; i < s.timeline.ops.length; i++) assert.ok(kept.has(s.timeline.ops.step[i]));
  // Whole steps: every op of a kept step is there.
  const per = (x: typeof t, step: number) => Array.from(x.ops.step).filter((v) => v === step).length;
  for (const step of kept) assert.equal(per(s.timeline, step), per(t, step));
  assert.match(s.notice, /^large trace \(60,000 ops in \d+ steps\): analysed and drawn from \d+ whole steps spread over the run$/);
});
