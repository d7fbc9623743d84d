// Calibration: it inverts the simulator exactly, names what a trace lacks, and on a real captured run predicts that run's step time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrate, CalibrationError } from '../../core/simulate/calibrate';
import { simulate } from '../../core/simulate/simulate';
import type { Timeline } from '../../core/trace/timeline';
import type { Plan } from '../../core/plan/types';
import type { CostModel } from '../../core/simulate/cost-model';
import { lossMs } from '../../core/simulate/cost-model';
import { timelineFromTrace } from '../../core/trace/import';
import { median } from '../../core/runtime/executor';
import { UsageError } from '../../core/config/errors';
import { smallRun, SMALL } from '../runtime/run';
import { builtinModel } from '../../core/model/builtin';
import type { BuiltinModel } from '../../core/model/builtin';
import { asMeasured, plan, richCosts, stepMs, summaries, unitCosts } from './helpers';

const near = (a: number, b: number, what: string, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** The costs a calibration should recover from a run of `c`: its probe times scaled into the curves, its per-op overhead in ms. */
const scaled = (c: CostModel) => c.layers.map((l) => l.points.map((p) => ({ size: p.size, forwardMs: p.forwardMs * c.computeScale, backwardMs: p.backwardMs * c.computeScale })));
const pointsOf = (c: CostModel) => c.layers.map((l) => l.points.map((p) => ({ size: p.size, forwardMs: p.forwardMs, backwardMs: p.backwardMs })));
const nearPoints = (a: ReturnType<typeof scaled>, b: ReturnType<typeof scaled>, what: string) =>
  a.forEach((l, i) => l.forEach((p, j) => {
    near(p.forwardMs, b[i][j].forwardMs, `${what} layer ${i} F at ${p.size}`);
    near(p.backwardMs, b[i][j].backwardMs, `${what} layer ${i} B at ${p.size}`);
  }));

test('calibrating on a simulated run recovers the costs that produced it, and predicts every other plan exactly', () => {
  const c = richCosts();
  for (const [balance, M, schedule] of [[[2, 1, 3], 4, '1f1b'], [[3, 3], 8, 'gpipe']] as const) {
    const p = plan([...balance], M, schedule);
    const t = asMeasured(simulate({ plan: p, batch: 2 * M, costs: c, layers: summaries(c), steps: 3 }));
    const fit = calibrate(t);
    near(fit.opOverheadMs * fit.computeScale, c.opOverheadMs * c.computeScale, 'per-op overhead (ms)');
    nearPoints(pointsOf(fit), scaled(c), `from [${balance}]`);
    assert.equal(fit.contention, undefined, 'no contention in a run without it');
    near(fit.link.latencyMs, c.link.latencyMs, 'latency');
    near(fit.link.bytesPerMs, c.link.bytesPerMs, 'bytesPerMs');
    near(fit.opt.fixedMs, c.opt.fixedMs, 'opt.fixedMs');
    fit.layers.forEach((l, i) => near(l.optMs!, c.opt.msPerParamByte * c.layers[i].paramBytes, `layer ${i} OPT`));
    near(fit.memory.baseBytes, c.memory.baseBytes, 'memory.baseBytes');
    near(fit.memory.stateBytesPerParamByte, c.memory.stateBytesPerParamByte, 'memory.state');
    near(fit.lossMsPerSample!, c.lossMsPerSample!, 'lossMsPerSample');
    near(fit.link.wakeMs!, c.link.wakeMs!, 'wakeMs');
    near(fit.stepOverhead!.startMs, c.stepOverhead!.startMs, 'stepOverhead.startMs');
    near(fit.stepOverhead!.endMs, c.stepOverhead!.endMs, 'stepOverhead.endMs');
    near(fit.gradAccumMsPerParamByte!, c.gradAccumMsPerParamByte!, 'gradAccumMsPerParamByte');
    near(fit.inputMsPerSample!, c.inputMsPerSample!, 'inputMsPerSample');
    // Its own plan with no residual and no spread; every other plan exactly too.
    near(fit.fit!.residual, 0, 'residual');
    near(fit.fit!.stepSpread, 0, 'step spread');
    for (const other of [plan([1, 2, 2, 1], 6, 'gpipe', 'always'), plan([4, 2], 3, '1f1b', 'except-last')]) {
      const want = stepMs(simulate({ plan: other, batch: 12, costs: c, layers: summaries(c) }));
      near(stepMs(simulate({ plan: other, batch: 12, costs: fit, layers: summaries(c) })), want, `${other.balance} from ${balance}`);
    }
  }
});

test('the loss: its curve from the probe, its level from the run; without a probed loss it is taken per sample', () => {
  const c = richCosts();
  // Mostly fixed: the loss over 8 samples costs 1.5× that over 1, not 8×.
  c.lossMsPerSample = undefined;
  c.loss = [{ size: 1, ms: 2 }, { size: 2, ms: 2.1 }, { size: 4, ms: 2.4 }, { size: 8, ms: 3 }];
  const traced = plan([2, 2, 2], 4, '1f1b'); // 2 samples per micro-batch
  const t = asMeasured(simulate({ plan: traced, batch: 8, costs: c, layers: summaries(c), steps: 3 }));
  const fit = calibrate(t);
  assert.deepEqual(fit.lossMsPerSample, undefined);
  for (const size of [1, 2, 4, 8]) near(lossMs(fit, size), lossMs(c, size), `loss at ${size}`);
  const other = plan([2, 2, 2], 1, 'gpipe'); // 8 samples per micro-batch
  const want = stepMs(simulate({ plan: other, batch: 8, costs: c, layers: summaries(c) }));
  near(stepMs(simulate({ plan: other, batch: 8, costs: fit, layers: summaries(c) })), want, 'other micro-batch size');
  // The same run without the probe's loss: per sample, 4× the loss at 8 samples, so the other plan is over-predicted.
  const bare = { ...t, layerCosts: t.layerCosts.map((x) => ({ ...x, points: x.points.map(({ lossMs: _, ...q }) => q) })) };
  const perSample = calibrate(bare);
  assert.ok(perSample.lossMsPerSample! > 0 && perSample.loss === undefined);
  assert.ok(stepMs(simulate({ plan: other, batch: 8, costs: perSample, layers: summaries(c) })) > want + 2, 'a per-sample loss misses the fixed part');
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
  near(fit.opOverheadMs * fit.computeScale, c.opOverheadMs * c.computeScale, 'per-op overhead (ms)');
  nearPoints(pointsOf(fit), scaled(c), 'shared cores');
  near(fit.opt.fixedMs, c.opt.fixedMs, 'opt.fixedMs');
  near(fit.lossMsPerSample!, c.lossMsPerSample!, 'loss');
  const other = plan([2, 1, 1, 1, 1], 4, 'gpipe');
  near(stepMs(simulate({ plan: other, batch: 12, costs: fit, layers: t.layers })), stepMs(simulate({ plan: other, batch: 12, costs: c, layers: t.layers })), 'other plan', 1e-4);
});

test('workers that slow each other: calibration finds the contention from how the same ops vary, and predicts other plans with it', () => {
  const c = richCosts();
  c.contention = 0.3;
  const t = asMeasured(simulate({ plan: plan([2, 2, 2], 6, 'gpipe'), batch: 12, costs: c, layers: summaries(c), steps: 2 }));
  const fit = calibrate(t);
  near(fit.contention!, 0.3, 'contention', 0.05);
  for (const other of [plan([3, 3], 4, '1f1b'), plan([1, 2, 3], 12, 'zb-h1')]) {
    const want = stepMs(simulate({ plan: other, batch: 12, costs: c, layers: summaries(c) }));
    near(stepMs(simulate({ plan: other, batch: 12, costs: fit, layers: summaries(c) })), want, `${other.balance} ${other.schedule}`, 0.03);
  }
  // Without it the same plans run faster: the contention is what made the difference.
  const alone = { ...c, contention: 0 };
  assert.ok(stepMs(simulate({ plan: plan([3, 3], 4), batch: 12, costs: alone, layers: summaries(c) })) < 0.95 * stepMs(simulate({ plan: plan([3, 3], 4), batch: 12, costs: c, layers: summaries(c) })));
});

test('without the per-layer probe, each stage\'s op time is split over its layers by FLOPs', () => {
  const c = unitCosts(4, { f: 2, b: 4, mb: 2 });
  c.layers[0].flops = 3000; // stage 0 = layers 0 and 1: 3/4 and 1/4 of its time
  const t = asMeasured(simulate({ plan: plan([2, 2], 2), batch: 4, costs: c, layers: summaries(c), steps: 2 }));
  const fit = calibrate({ ...t, layerCosts: [] });
  near(fit.layers[0].points[0].forwardMs, 0.75 * 4, 'layer 0 F');
  near(fit.layers[1].points[0].backwardMs, 0.25 * 8, 'layer 1 B');
  assert.equal(fit.layers[0].points[0].size, 2);
  assert.equal(fit.fit!.probed, false);
  near(stepMs(simulate({ plan: plan([2, 2], 2), batch: 4, costs: fit, layers: t.layers })), stepMs(t), 'same plan');
});

test('layers of the same shape share one probe curve (the median), which cancels a noisy probe point; the run sets its level', () => {
  const c = unitCosts(5, { mb: 2 });
  c.layers.forEach((l) => (l.points = [2, 4].map((size) => ({ size, forwardMs: size, backwardMs: 2 * size }))));
  const t = asMeasured(simulate({ plan: plan([3, 2], 2), batch: 4, costs: c, layers: summaries(c), steps: 2 }));
  const noisy = t.layerCosts.map((lc, i) => ({ ...lc, points: lc.points.map((p) => ({ ...p, backwardMs: i === 2 && p.size === 4 ? 50 : p.backwardMs })) }));
  const fit = calibrate({ ...t, layerCosts: noisy });
  assert.deepEqual(fit.layers[2].points, fit.layers[3].points);
  near(fit.layers[2].points[1].backwardMs / fit.layers[2].points[0].backwardMs, 2, 'the curve\'s shape, not the noisy point');
  // The probe said nothing wrong at the traced size: the run keeps every curve's level.
  nearPoints(pointsOf(fit).map((l) => l.slice(0, 1)), scaled(c).map((l) => l.slice(0, 1)), 'traced size');
});

test('the run corrects a probe that is off at the traced size: the traced plan is reproduced, the probe\'s shape kept', () => {
  const c = richCosts();
  const t = asMeasured(simulate({ plan: plan([2, 2, 2], 4), batch: 8, costs: c, layers: summaries(c), steps: 2 }));
  // The probe has the last layer's backward at half its cost at every size, and the forward of the others 30 % high.
  const off = t.layerCosts.map((lc) => ({ ...lc, points: lc.points.map((p) => ({ ...p, backwardMs: lc.layer === 'layer_5' ? p.backwardMs / 2 : p.backwardMs, forwardMs: lc.layer === 'layer_5' ? p.forwardMs : 1.3 * p.forwardMs })) }));
  const fit = calibrate({ ...t, layerCosts: off });
  near(stepMs(simulate({ plan: plan([2, 2, 2], 4), batch: 8, costs: fit, layers: t.layers })), stepMs(t), 'traced plan', 0.01);
  assert.ok(fit.fit!.residual < 0.01, `residual ${fit.fit!.residual}`);
});

test('a trace calibration cannot use gets one line naming what is missing and the fix', () => {
  const c = unitCosts(4);
  const t = asMeasured(simulate({ plan: plan([2, 2], 2), batch: 2, costs: c, layers: summaries(c), steps: 2 }));
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
    [{ ...t, steps: t.steps.slice(0, 1) }, /has 1 measured step, and how far a prediction holds is judged from the spread of at least 2; capture it again with --steps 4/],
    [{ ...t, layerCosts: t.layerCosts.slice(1) }, /probe \(pipeprof\.layerCosts\) covers 3 of the 4 layers \(missing: layer_0\); the trace is damaged/],
    [{ ...t, layerCosts: t.layerCosts.map((l, i) => (i === 2 ? { ...l, points: [{ size: 1, forwardMs: -1, backwardMs: 2 }] } : l)) }, /probe of layer layer_2 has a point that is not a size and non-negative times/],
  ];
  for (const [bad, re] of cases) {
    assert.throws(() => calibrate(bad), (e: unknown) => e instanceof CalibrationError && e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'), String(re));
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
      assert.ok(costs.computeScale > 0 && Number.isFinite(costs.opOverheadMs) && costs.link.bytesPerMs > 0 && costs.fit!.probed);
      const predicted = stepMs(simulate({ plan: measured.plan!, batch: measured.batch!, costs, layers: measured.layers }));
      const actual = median(stepTimesMs);
      tries.push(`predicted ${predicted.toFixed(2)} ms, measured ${actual.toFixed(2)} ms`);
      ok = Math.abs(predicted / actual - 1) < 0.2;
    }
    assert.ok(ok, `${name}: ${tries.join('; ')}`);
  }
});
