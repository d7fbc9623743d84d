// The webgpu backend (Dawn on Vulkan; lavapipe in CI): transparency against wasm and unsplit training, a complete trace, clean faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchedule } from '../../core/schedule';
import type { Plan } from '../../core/plan/types';
import type { CompleteEvent, TraceEvent, TraceFile } from '../../core/trace/schema';
import { timelineFromTrace } from '../../core/trace/import';
import { gpuShare } from '../../core/analysis/gpu-share';
import { maxDiff, smallRun } from './run';
import { inChild, webgpuReady } from './webgpu-env';

/** float32 on a GPU sums in another order than wasm: ~1e-7 measured on lavapipe; 100× less than one more step moves them. */
const TOLERANCE = 1e-6;

const cases: { model: 'mlp' | 'transformer'; plans: (Partial<Plan> & { balance: number[] })[] }[] = [
  { model: 'mlp', plans: [
    { balance: [2, 2], microbatches: 4, schedule: 'gpipe', recompute: 'never' },
    { balance: [1, 3], microbatches: 2, schedule: '1f1b', recompute: 'except-last' },
    // Replicas: gradients read back asynchronously for the layer-wise all-reduce.
    { balance: [2, 2], microbatches: 2, schedule: '1f1b', recompute: 'never', replicas: 2, sync: { sync: 'layerwise', allreduce: 'ring', compress: 'none' } },
  ] },
  { model: 'transformer', plans: [
    { balance: [2, 2], microbatches: 4, schedule: '1f1b', recompute: 'never' },
    { balance: [1, 2, 1], microbatches: 2, schedule: 'gpipe', recompute: 'always' },
  ] },
];

for (const { model, plans } of cases)
  test(`webgpu transparency: ${model} with gpipe and 1f1b${model === 'mlp' ? ' (and replicas)' : ''} trains to wasm's weights and unsplit training's`, async (t) => {
    if (!(await webgpuReady(t))) return;
    const unsplit = await smallRun(model, { balance: [plans[0].balance.reduce((a, b) => a + b, 0)] }, { probe: false });
    for (const plan of plans) {
      const { result, stray } = await inChild({ kind: 'run', model, plan, extra: { probe: false } });
      assert.ok(result.ok, `${JSON.stringify(plan)} on webgpu: ${result.ok ? '' : result.message}`);
      // Nothing but Dawn's known lines on stderr: no tfjs warning about synchronous reads (every read back is data()).
      assert.deepEqual(stray, [], 'stderr');
      const wasm = await smallRun(model, plan, { probe: false });
      for (const [name, ref] of [['unsplit (wasm)', unsplit], ['the same plan on wasm', wasm]] as const) {
        const { diff, where } = maxDiff(result.weights!, ref.weights!);
        assert.ok(diff < TOLERANCE, `${JSON.stringify(plan)}: webgpu's weights differ from ${name}'s by ${diff} at ${where}`);
        result.losses!.forEach((l, i) => assert.ok(Math.abs(l - ref.losses[i]) < 1e-5 * (1 + Math.abs(l)), `loss of step ${i}: ${l} vs ${ref.losses[i]}`));
      }
      // The weights moved: not two untouched initialisations compared.
      assert.ok(result.losses![0] !== result.losses![2]);
    }
  });

const isX = (e: TraceEvent): e is CompleteEvent => e.ph === 'X';

test('webgpu: the trace holds every scheduled op in order, paired flows, the probe, and says how GPU ops were timed', async (t) => {
  if (!(await webgpuReady(t))) return;
  const plan = { balance: [2, 2], microbatches: 2, schedule: '1f1b' as const, recompute: 'never' as const, replicas: 1 };
  const { result, stray, exited } = await inChild({ kind: 'run', model: 'mlp', plan, extra: { steps: 2, warmup: 1, probe: true } });
  assert.ok(result.ok, result.ok ? '' : result.message);
  assert.deepEqual(stray, [], 'stderr');
  assert.ok(exited, 'the child ended by itself: no worker or Dawn device left running');
  const trace = result.trace as TraceFile;
  const ev = trace.traceEvents;
  const schedule = buildSchedule(plan);
  for (let step = 0; step < 3; step++)
    for (let s = 0; s < 2; s++) {
      const ops = ev.filter(isX).filter((e) => e.pid === s && e.tid === 0 && e.args.step === step).sort((a, b) => a.ts - b.ts);
      assert.deepEqual(ops.map((e) => `${e.name}${e.args.microbatch ?? ''}`), [...schedule[s].map((o) => `${o.op}${o.microbatch}`), 'OPT'], `stage ${s} step ${step}`);
    }
  const starts = ev.filter((e) => e.ph === 's').length;
  assert.equal(starts, 3 * 2 * 2, 'a flow per activation and per gradient');
  assert.equal(ev.filter((e) => e.ph === 'f').length, starts);
  assert.ok(ev.filter(isX).every((e) => e.ts >= 0 && e.dur >= 0 && Number.isFinite(e.ts)));
  const m = trace.pipeprof;
  assert.equal(m.status, 'complete');
  assert.equal(m.backend, 'webgpu');
  const gpu = m.host.gpu!;
  assert.ok(gpu && gpu.adapter.length > 0, 'the adapter is named');
  assert.deepEqual({ devices: gpu.devices, timing: gpu.timing, readback: gpu.readback }, { devices: 2, timing: 'gpu-completion', readback: 'async' });
  assert.ok(m.host.peakFlops! > 1e6, `peak ${m.host.peakFlops}`);
  assert.deepEqual(m.layerCosts!.map((c) => c.layer), m.layers.map((l) => l.name));
  for (const c of m.layerCosts!) for (const p of c.points) assert.ok(p.forwardMs > 0 && p.backwardMs > 0, `${c.layer} at ${p.size}`);
  // No tensor leaks on the GPU: live tensors per worker are the same after every step.
  for (const counts of result.tensorsPerStep!.slice(1)) assert.deepEqual(counts, result.tensorsPerStep![1]);
  // The importer every analysis uses accepts it.
  const tl = timelineFromTrace(JSON.parse(JSON.stringify(trace)), 'webgpu.pptrace.json');
  assert.equal(tl.ops.length, ev.filter(isX).length);
  assert.equal(tl.host?.gpu?.timing, 'gpu-completion', 'the timeline keeps how GPU ops were timed');
  // The report's GPU line: both workers had a share of the one GPU.
  const share = gpuShare(tl)!;
  assert.deepEqual(share.workers.map((w) => w.stage), [0, 1]);
  assert.ok(share.workers.every((w) => w.share > 0 && w.inFlight > 0 && w.inFlight <= 1));
  assert.ok(Math.abs(share.workers.reduce((n, w) => n + w.share, 0) - 1) < 1e-9);
});

test('webgpu: a fault in a worker stops the run cleanly, naming stage, op and step, with the partial trace', async (t) => {
  if (!(await webgpuReady(t))) return;
  for (const [fault, message, kept] of [
    [{ stage: 1, op: 'B', step: 1, kind: 'throw' }, /^stage 1, op B micro-batch 0, step 1: injected fault in B on stage 1$/, 1],
    [{ stage: 0, op: 'F', step: 1, kind: 'exit' }, /^stage 0, op F micro-batch \d+, step 1: worker exited with code 3$/, 1],
  ] as const) {
    const { result, stray, exited } = await inChild({ kind: 'run', model: 'mlp', plan: { balance: [2, 2], microbatches: 2 }, extra: { fault, probe: false } });
    assert.ok(!result.ok, `${fault.kind}: the run should have failed`);
    assert.match(result.message, message);
    assert.deepEqual(stray, [], 'stderr');
    assert.ok(exited, `${fault.kind}: the child ended by itself: every worker and Dawn device stopped`);
    const trace = result.trace as TraceFile;
    assert.equal(trace.pipeprof.status, 'failed');
    assert.equal(trace.pipeprof.steps.length, kept);
    assert.ok(trace.traceEvents.some((e) => isX(e) && e.args.step === 0 && e.name === 'OPT'), 'step 0 kept');
  }
});

test('webgpu: an op is timed to the GPU finishing it: workDone submits the commands tfjs batches, then awaits the queue', async (t) => {
  if (!(await webgpuReady(t))) return;
  const { result, stray } = await inChild({ kind: 'work-done' });
  assert.ok(result.ok, result.ok ? '' : result.message);
  assert.deepEqual(stray, [], 'stderr');
  // A matmul is only recorded into tfjs's command encoder (nothing reaches the GPU) until something submits it.
  assert.deepEqual(result.pending, { before: true, after: false });
});
