// Calibration: it inverts the simulator exactly, names what a trace lacks, and on a real captured run predicts that run's step time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrate, CalibrationError } from '../../core/simulate/calibrate';
import { simulate } from '../../core/simulate/simulate';
import type { Timeline } from '../../core/trace/timeline';
import type { Plan } from '../../core/schedule/types';
import { timelineFromTrace } from '../../core/trace/import';
import { median } from '../../core/runtime/executor';
import { UsageError } from '../../core/config/errors';
import { smallRun, SMALL } from '../runtime/run';
import { builtinModel } from '../../core/model/builtin';
import type { BuiltinModel } from '../../core/model/builtin';
import { asMeasured, plan, richCosts, stepMs, summaries, unitCosts } from './helpers';

const near = (a: number, b: number, what: string, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('calibrating on a simulated run recovers the cost model that produced it', () => {
  const c = richCosts();
  for (const [balance, M, schedule] of [[[2, 1, 3], 4, '1f1b'], [[3, 3], 8, 'gpipe']] as const) {
    const p = plan([...balance], M, schedule);
    const t = asMeasured(simulate({ plan: p, batch: 2 * M, costs: c, layers: summaries(c), steps: 3 }));
    const fit = calibrate(t);
    near(fit.computeScale, c.computeScale, 'computeScale');
    near(fit.opOverheadMs, c.opOverheadMs, 'opOverheadMs');
    near(fit.link.latencyMs, c.link.latencyMs, 'latency');
    near(fit.link.bytesPerMs, c.link.bytesPerMs, 'bytesPerMs');
    near(fit.opt.fixedMs, c.opt.fixedMs, 'opt.fixedMs');
    near(fit.opt.msPerParamByte, c.opt.msPerParamByte, 'opt.msPerParamByte');
    near(fit.memory.baseBytes, c.memory.baseBytes, 'memory.baseBytes');
    near(fit.memory.stateBytesPerParamByte, c.memory.stateBytesPerParamByte, 'memory.state');
    near(fit.lossMsPerSample!, c.lossMsPerSample!, 'lossMsPerSample');
    near(fit.link.wakeMs!, c.link.wakeMs!, 'wakeMs');
    near(fit.stepOverhead!.startMs, c.stepOverhead!.startMs, 'stepOverhead.startMs');
    near(fit.stepOverhead!.endMs, c.stepOverhead!.endMs, 'stepOverhead.endMs');
    near(fit.gradAccumMsPerParamByte!, c.gradAccumMsPerParamByte!, 'gradAccumMsPerParamByte');
    near(fit.inputMsPerSample!, c.inputMsPerSample!, 'inputMsPerSample');
    assert.deepEqual(fit.layers.map((l) => l.points), c.layers.map((l) => l.points));
    // And so every other plan is predicted exactly too.
    for (const other of [plan([1, 2, 2, 1], 6, 'gpipe', 'always'), plan([4, 2], 3, '1f1b', 'except-last')]) {
      const want = stepMs(simulate({ plan: other, batch: 12, costs: c, layers: summaries(c) }));
      near(stepMs(simulate({ plan: other, batch: 12, costs: fit, layers: summaries(c) })), want, `${other.balance} from ${balance}`);
    }
  }
});

test('with more stages than cores, calibration counts each op\'s share of a core and recovers the model', () => {
  const c = richCosts();
  c.link = { latencyMs: 0.05, bytesPerMs: Infinity, wakeMs: 0.2 };
  c.inputMsPerSample = 0; // untraced, so no share of a core can be told for it
  c.cores = 2;
  const t = asMeasured(simulate({ plan: plan([1, 2, 2, 1], 6), batch: 12, costs: c, layers: summaries(c), steps: 2 }));
  const host = { platform: 'linux', arch: 'x64', cpus: 2, cpuModel: '', memoryBytes: 0, node: '', tfjs: '' };
  const fit = calibrate({ ...t, host });
  assert.equal(fit.cores, 2);
  near(fit.computeScale, c.computeScale, 'computeScale');
  near(fit.opOverheadMs, c.opOverheadMs, 'opOverheadMs');
  near(fit.opt.fixedMs, c.opt.fixedMs, 'opt.fixedMs');
  near(fit.lossMsPerSample!, c.lossMsPerSample!, 'loss');
  const other = plan([2, 1, 1, 1, 1], 4, 'gpipe');
  near(stepMs(simulate({ plan: other, batch: 12, costs: fit, layers: t.layers })), stepMs(simulate({ plan: other, batch: 12, costs: c, layers: t.layers })), 'other plan', 1e-4);
});

test('without the per-layer probe, each stage\'s op time is split over its layers by FLOPs', () => {
  const c = unitCosts(4, { f: 2, b: 4, mb: 2 });
  c.layers[0].flops = 3000; // stage 0 = layers 0 and 1: 3/4 and 1/4 of its time
  const t = asMeasured(simulate({ plan: plan([2, 2], 2), batch: 4, costs: c, layers: summaries(c) }));
  const fit = calibrate({ ...t, layerCosts: [] });
  near(fit.layers[0].points[0].forwardMs, 0.75 * 4, 'layer 0 F');
  near(fit.layers[1].points[0].backwardMs, 0.25 * 8, 'layer 1 B');
  assert.equal(fit.layers[0].points[0].size, 2);
  near(fit.computeScale, 1, 'scale');
  near(stepMs(simulate({ plan: plan([2, 2], 2), batch: 4, costs: fit, layers: t.layers })), stepMs(t), 'same plan');
});

test('layers of the same shape share one probe curve (the median), which cancels a noisy probe point; the first layer keeps its own', () => {
  const c = unitCosts(5, { mb: 2 });
  c.layers.forEach((l) => (l.points = [2, 4].map((size) => ({ size, forwardMs: size, backwardMs: 2 * size }))));
  const t = asMeasured(simulate({ plan: plan([3, 2], 2), batch: 4, costs: c, layers: summaries(c) }));
  const noisy = t.layerCosts.map((lc, i) => ({ ...lc, points: lc.points.map((p) => ({ ...p, backwardMs: i === 2 && p.size === 4 ? 50 : i === 0 ? 1 : p.backwardMs })) }));
  const fit = calibrate({ ...t, layerCosts: noisy });
  assert.deepEqual(fit.layers[2].points, [{ size: 2, forwardMs: 2, backwardMs: 4 }, { size: 4, forwardMs: 4, backwardMs: 8 }]);
  assert.deepEqual(fit.layers[0].points.map((p) => p.backwardMs), [1, 1]);
});

test('a trace calibration cannot use gets one line naming what is missing and the fix', () => {
  const c = unitCosts(4);
  const t = asMeasured(simulate({ plan: plan([2, 2], 2), batch: 2, costs: c, layers: summaries(c) }));
  const ops = t.ops;
  const without = (kind: number): Timeline => {
    const keep = Array.from({ length: ops.length }, (_, i) => i).filter((i) => ops.kind[i] !== kind);
    const pick = <T extends Uint8Array | Int32Array | Float64Array>(col: T): T => col.filter((_, i) => keep.includes(i)) as T;
    return { ...t, ops: { ...ops, length: keep.length, kind: pick(ops.kind), stage: pick(ops.stage), replica: pick(ops.replica), lane: pick(ops.lane), microbatch: pick(ops.microbatch), chunk: pick(ops.chunk), step: pick(ops.step), peer: pick(ops.peer), start: pick(ops.start), dur: pick(ops.dur), bytes: pick(ops.bytes) } };
  };
  const cases: [Timeline, RegExp][] = [
    [{ ...t, plan: null }, /no plan .*; calibrate from a trace written by pipeprof capture/],
    [{ ...t, batch: null }, /minibatch size \(pipeprof\.run\.batch\)/],
    [{ ...t, layers: t.layers.slice(1) }, /lists 3 layers .* but its plan places 4/],
    [without(0), /stage 0 has no F or B ops .*; calibration needs every stage's forward and backward times; capture the run again/],
    [without(7), /stage 0 has no OPT op .*; calibration needs the optimizer update's time/],
  ];
  for (const [bad, re] of cases) {
    assert.throws(() => calibrate(bad), (e: unknown) => e instanceof CalibrationError && e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'));
  }
});

test('calibrated on a real captured run, the simulator predicts that run\'s step time', async () => {
  // Big enough that an op takes a few ms: a worker preempted for a time slice (3–4 ms on 2 shared cores) then costs a
  // few percent of a step, not half of it.
  const cases: [BuiltinModel, Record<string, number>, Partial<Plan> & { balance: number[] }][] = [
    ['mlp', { width: 768, depth: 4 }, { balance: [2, 2], microbatches: 4, schedule: '1f1b' }],
    ['transformer', { ...SMALL.transformer, vocab: 1024, dModel: 96, ffn: 384, seqLen: 16 }, { balance: [2, 2], microbatches: 2, schedule: 'gpipe', recompute: 'except-last' }],
  ];
  for (const [name, options, p] of cases) {
    const tries: string[] = [];
    let ok = false;
    // A timing check on shared cores: up to three captures; one within tolerance passes.
    for (let attempt = 0; attempt < 3 && !ok; attempt++) {
      const { trace, stepTimesMs } = await smallRun(name, p, { model: builtinModel(name, options), steps: 8, warmup: 2, batch: 64, saveWeights: false });
      const measured = timelineFromTrace(JSON.parse(JSON.stringify(trace)), 'run.pptrace.json');
      assert.equal(measured.layerCosts.length, measured.layers.length, 'the capture carries the per-layer probe');
      const costs = calibrate(measured);
      assert.ok(costs.computeScale > 0 && Number.isFinite(costs.opOverheadMs) && costs.link.bytesPerMs > 0);
      const predicted = stepMs(simulate({ plan: measured.plan!, batch: measured.batch!, costs, layers: measured.layers }));
      const actual = median(stepTimesMs);
      tries.push(`predicted ${predicted.toFixed(2)} ms, measured ${actual.toFixed(2)} ms`);
      ok = Math.abs(predicted / actual - 1) < 0.2;
    }
    assert.ok(ok, `${name}: ${tries.join('; ')}`);
  }
});
