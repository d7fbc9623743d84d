// The recorded trace: every scheduled op present in order, SEND↔RECV paired by flows, lanes free of overlap, metadata complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchedule } from '../../core/schedule';
import type { CompleteEvent, TraceEvent } from '../../core/trace/schema';
import { smallRun } from '../runtime/run';
import { probeSizes } from '../../core/runtime/executor';

const isX = (e: TraceEvent): e is CompleteEvent => e.ph === 'X';

test('a trace holds each stage\'s scheduled ops in order, step by step, with comms, flows, memory and loss', async () => {
  const plan = { balance: [1, 2, 1], microbatches: 4, schedule: '1f1b' as const, recompute: 'except-last' as const, replicas: 1 };
  const { trace } = await smallRun('mlp', plan, { steps: 2, warmup: 1 });
  const schedule = buildSchedule(plan);
  const ev = trace.traceEvents;
  for (let step = 0; step < 3; step++)
    for (let s = 0; s < 3; s++) {
      const ops = ev.filter(isX).filter((e) => e.pid === s && e.tid === 0 && e.args.step === step).sort((a, b) => a.ts - b.ts);
      const expected = [...schedule[s].map((o) => `${o.op}${o.microbatch}`), 'OPTundefined'];
      assert.deepEqual(ops.map((e) => `${e.name}${e.args.microbatch}`), expected, `stage ${s} step ${step}`);
      // Activations go down, gradients come back: one SEND and one RECV per micro-batch and neighbour.
      const sends = ev.filter(isX).filter((e) => e.pid === s && e.args.op === 'SEND' && e.args.step === step);
      assert.equal(sends.length, 4 * ((s < 2 ? 1 : 0) + (s > 0 ? 1 : 0)));
      for (const e of sends) {
        assert.ok(e.args.bytes! > 0);
        const recv = ev.filter(isX).find((r) => r.pid === e.args.peer && r.args.op === 'RECV' && r.args.step === step && r.args.microbatch === e.args.microbatch && r.args.peer === s);
        assert.ok(recv, `RECV for ${e.name} m${e.args.microbatch} from stage ${s}`);
        assert.equal(recv!.args.bytes, e.args.bytes);
      }
    }
  // Flows: each start has exactly one finish with the same id, not before it.
  const starts = ev.filter((e) => e.ph === 's') as Extract<TraceEvent, { ph: 's' | 'f' }>[];
  const finishes = new Map((ev.filter((e) => e.ph === 'f') as Extract<TraceEvent, { ph: 's' | 'f' }>[]).map((f) => [f.id, f]));
  assert.equal(starts.length, finishes.size);
  for (const s of starts) assert.ok(finishes.get(s.id)!.ts >= s.ts - 1, `flow ${s.id}`);
  // Perfetto draws one slice at a time per track: no overlaps within a (pid, tid) lane.
  const lanes = new Map<string, CompleteEvent[]>();
  for (const e of ev.filter(isX)) lanes.set(`${e.pid}/${e.tid}`, [...(lanes.get(`${e.pid}/${e.tid}`) ?? []), e]);
  for (const [lane, es] of lanes) {
    es.sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < es.length; i++) assert.ok(es[i].ts >= es[i - 1].ts + es[i - 1].dur - 0.001, `overlap on lane ${lane} at ${es[i].ts}`);
  }
  // Recompute traced as R, only for micro-batches other than the last.
  const rs = ev.filter(isX).filter((e) => e.name === 'R');
  assert.equal(rs.length, 3 * 3 * 3);
  assert.ok(rs.every((e) => e.args.microbatch! < 3));
  // Memory counters on every stage; loss counter per step on the last stage.
  for (let s = 0; s < 3; s++) assert.ok(ev.some((e) => e.ph === 'C' && e.name === 'memory' && e.pid === s && e.args.bytes > 0));
  assert.equal(ev.filter((e) => e.ph === 'C' && e.name === 'loss').length, 3);
  // Names for every process and lane; times on one clock starting near 0.
  assert.deepEqual(ev.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => (e as unknown as { args: { name: string } }).args.name), ['stage 0 · layer 0', 'stage 1 · layers 1–2', 'stage 2 · layer 3']);
  assert.ok(ev.filter(isX).every((e) => e.ts >= 0 && e.dur >= 0 && Number.isFinite(e.ts)));
  // Metadata.
  const m = trace.pipeprof;
  assert.equal(m.version, 1);
  assert.equal(m.status, 'complete');
  assert.deepEqual(m.plan, plan);
  assert.equal(m.layers.length, 4);
  assert.deepEqual(m.layers[0], { name: 'dense_0', kind: 'dense', params: 32 * 32 + 32, flops: 2 * 32 * 32 + 32 + 32, activationBytes: 128 });
  assert.equal(m.steps.length, 3);
  assert.deepEqual(m.steps.map((s) => s.warmup), [true, false, false]);
  assert.ok(m.host.cpus > 0 && m.host.tfjs.length > 0);
  assert.equal(m.backend, 'wasm');
  // The file is plain Chrome Trace Event JSON.
  const round = JSON.parse(JSON.stringify(trace));
  assert.ok(Array.isArray(round.traceEvents));
  assert.equal(round.displayTimeUnit, 'ms');
});

test('with the recorder off, training runs the same and the trace keeps only metadata', async () => {
  const plan = { balance: [2, 2], microbatches: 2 };
  const on = await smallRun('mlp', plan);
  const off = await smallRun('mlp', plan, { trace: false });
  assert.deepEqual(off.losses, on.losses);
  assert.equal(off.trace.traceEvents.filter((e) => e.ph !== 'M').length, 0);
});

test('recompute lowers a stage\'s peak memory (GPipe keeps every micro-batch\'s activations otherwise)', async () => {
  const peak = async (recompute: 'always' | 'never') => {
    const { trace } = await smallRun('mlp', { balance: [2, 2], microbatches: 8, schedule: 'gpipe', recompute }, { batch: 64 });
    return Math.max(...trace.traceEvents.filter((e) => e.ph === 'C' && e.name === 'memory' && e.pid === 0).map((e) => (e as { args: { bytes: number } }).args.bytes));
  };
  const never = await peak('never');
  const always = await peak('always');
  assert.ok(always < never, `peak with recompute ${always} B, without ${never} B`);
});

test('probe sizes: batch / M for every M ≥ 2, the run\'s own size, never the whole batch unless the run used it', () => {
  assert.deepEqual(probeSizes(32, 8), [1, 2, 4, 8, 16]);
  assert.deepEqual(probeSizes(32, 32), [1, 2, 4, 8, 16, 32]);
  assert.deepEqual(probeSizes(12, 6), [1, 2, 3, 4, 6]);
  assert.deepEqual(probeSizes(1, 1), [1]);
  // At most 10 sizes, the run's own among them.
  const many = probeSizes(720, 45);
  assert.ok(many.length <= 11 && many.includes(45) && !many.includes(720), String(many));
});

test('tensor counts stay flat across steps (no leak in the runtime)', async () => {
  const { tensorsPerStep } = await smallRun('transformer', { balance: [2, 2], microbatches: 2, recompute: 'except-last' }, { steps: 6 });
  for (let t = 2; t < tensorsPerStep.length; t++) assert.deepEqual(tensorsPerStep[t], tensorsPerStep[1], `step ${t}`);
});

test('the cost probe times every layer (and the loss on the last) at every micro-batch size of two or more micro-batches; stage 0 measures the matmul peak', async () => {
  const { trace } = await smallRun('transformer', { balance: [2, 2], microbatches: 2 }, { steps: 1 });
  const costs = trace.pipeprof.layerCosts!;
  assert.deepEqual(costs.map((c) => c.layer), ['embedding', 'block_0', 'block_1', 'head']);
  assert.deepEqual(costs.map((c) => c.stage), [0, 0, 1, 1]);
  for (const c of costs) {
    // Batch 8 in 2 micro-batches: every size of two or more micro-batches (1, 2, 4); the whole batch is not timed.
    assert.deepEqual(c.points.map((p) => p.size), [1, 2, 4]);
    assert.ok(c.points.every((p) => p.forwardMs > 0 && p.backwardMs >= 0));
    assert.ok(c.savedBytesPerSample > 0);
  }
  // The loss is timed on the last layer only, at every size.
  assert.ok(costs[3].points.every((p) => p.lossMs! > 0), 'the loss on the head');
  assert.ok(costs.slice(0, 3).every((c) => c.points.every((p) => p.lossMs === undefined)), 'no loss on other layers');
  assert.equal(costs[1].paramBytes, 4 * trace.pipeprof.layers[1].params);
  assert.ok(trace.pipeprof.host.peakFlops! > 1e8);
});
