// Analyses of a real captured run: numbers agree with the raw trace events, fractions lie in [0, 1], the path is causal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompleteEvent, CounterEvent, TraceFile } from '../../core/trace/schema';
import { timelineFromTrace } from '../../core/trace/import';
import { buildReport } from '../../core/analysis/report';
import { utilization } from '../../core/analysis/utilization';
import { criticalPath } from '../../core/analysis/critical-path';
import { smallRun } from '../runtime/run';

let cached: TraceFile | null = null;
async function trace(): Promise<TraceFile> {
  cached ??= (await smallRun('mlp', { balance: [2, 2], microbatches: 4, schedule: 'gpipe' }, { steps: 3, warmup: 1, batch: 16 })).trace;
  return cached;
}

const near = (a: number, b: number, tol: number, msg: string) => assert.ok(Math.abs(a - b) <= tol, `${msg}: ${a} vs ${b}`);

test('the timeline holds every op of the trace; busy and step times agree with the raw events', async () => {
  const tr = await trace();
  const t = timelineFromTrace(JSON.parse(JSON.stringify(tr)), 'run.pptrace.json');
  const xs = tr.traceEvents.filter((e): e is CompleteEvent => e.ph === 'X');
  assert.equal(t.ops.length, xs.length);
  const measured = tr.pipeprof.steps.filter((s) => !s.warmup);
  const u = utilization(t);
  for (let s = 0; s < 2; s++) {
    const busy = xs.filter((e) => e.pid === s && e.tid === 0 && measured.some((m) => m.step === e.args.step)).reduce((a, e) => a + e.dur, 0) / 1000 / measured.length;
    near(u.stages[s].busyTotalMs, busy, 1e-6, `stage ${s} busy`);
    const stepMs = measured.reduce((a, m) => a + m.endUs - m.startUs, 0) / 1000 / measured.length;
    near(u.stages[s].bubbleMs, stepMs - busy, 1e-6, `stage ${s} bubble = step − busy`);
  }
});

test('report invariants on a real run: fractions in [0, 1], analytic bubble 1/5, memory peaks, samples/s', async () => {
  const tr = await trace();
  const r = buildReport(timelineFromTrace(tr, 'run.pptrace.json'));
  const inUnit = (x: number | null, what: string) => assert.ok(x !== null && x >= 0 && x <= 1, `${what} = ${x}`);
  inUnit(r.bubbleFraction, 'bubble');
  inUnit(r.overlapFraction, 'overlap');
  assert.equal(r.analyticBubbleFraction, 1 / 5);
  const durations = tr.pipeprof.steps.filter((s) => !s.warmup).map((s) => (s.endUs - s.startUs) / 1000).sort((a, b) => a - b);
  assert.equal(r.stepTimeMs, durations[1]);
  near(r.samplesPerSec!, 16 / (r.stepTimeMs / 1000), 1e-9, 'samples/s');
  assert.equal(r.measuredSteps, 3);
  for (const s of r.stages) {
    inUnit(s.utilization, `stage ${s.stage} utilization`);
    inUnit(s.bubbleFraction, `stage ${s.stage} bubble`);
    // The step splits into compute, bubble (idle + waiting), exposed transfer and collectives.
    const wire = s.perStep.reduce((a, x) => a + (x.transferMs + x.collectiveMs) / x.stepMs, 0) / s.perStep.length;
    near(s.utilization + s.bubbleFraction + wire, 1, 1e-9, 'utilization + bubble + exposed communication');
    assert.ok(s.busyMs.F > 0 && s.busyMs.B > 0 && s.busyMs.OPT > 0 && s.busyMs.R === 0);
    assert.ok(s.commMs > 0, 'both stages communicate');
    const peak = Math.max(...tr.traceEvents.filter((e): e is CounterEvent => e.ph === 'C' && e.name === 'memory' && e.pid === s.stage).map((e) => e.args.bytes));
    assert.equal(s.peakMemoryBytes, peak);
    assert.ok(s.achievedFlops! > 0);
  }
  assert.ok(r.straggler.overMeanFraction >= 0);
  assert.equal(r.layers.length, 4);
  assert.deepEqual(r.losses.map((l) => l.warmup), [true, false, false, false]);
});

test('the critical path of a real step is causal and within the step', async () => {
  const tr = await trace();
  const t = timelineFromTrace(tr, 'run.pptrace.json');
  const p = criticalPath(t);
  assert.equal(p.ops[0].kind, 'F');
  assert.equal(p.ops[0].stage, 0);
  assert.equal(p.ops[0].microbatch, 0);
  assert.equal(p.ops.at(-1)!.kind, 'OPT');
  for (let i = 1; i < p.ops.length; i++) {
    const a = p.ops[i - 1];
    const b = p.ops[i];
    // A SEND's end is stamped after postMessage returns, and the peer can hold the tensor well before that (measured:
    // 0.4-0.6 ms after the SEND began while it ran 2-9 ms on a loaded machine): a RECV only follows its SEND's start.
    if (a.kind === 'SEND') assert.ok(a.startMs <= b.startMs + b.durMs + 1e-6, `op ${i} (RECV) ends before its SEND began`);
    else assert.ok(a.startMs + a.durMs <= b.startMs + b.durMs + 1e-6, `op ${i} ends after its predecessor`);
    if (a.stage !== b.stage) assert.ok(a.kind === 'SEND' && b.kind === 'RECV', `stage change only through a transfer (${a.kind}→${b.kind})`);
  }
  // On a tiny model much of a step is messaging and scheduling between ops: the gaps, not the path.
  assert.ok(p.pathMs > 0 && p.pathMs <= p.stepMs + 1e-6, `path ${p.pathMs} of ${p.stepMs} ms`);
  near(p.pathMs + p.gapMs, p.stepMs, 1e-6, 'path + gaps = step');
});
