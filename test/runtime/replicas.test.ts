// Data-parallel replicas: every sync mode against unsplit training, traced all-reduce hops, compression, and faults during an all-reduce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunResult, Weights } from '../../core/runtime/executor';
import { PipelineError } from '../../core/runtime/executor';
import type { SyncConfig } from '../../core/plan/types';
import { smallRun } from './run';

function maxDiff(a: Weights, b: Weights): { diff: number; where: string } {
  let worst = { diff: 0, where: '' };
  for (const layer of Object.keys(b))
    for (const w of Object.keys(b[layer])) {
      const x = a[layer][w].values;
      const y = b[layer][w].values;
      for (let i = 0; i < x.length; i++) {
        const d = Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i]));
        if (d > worst.diff) worst = { diff: d, where: `${layer}/${w}[${i}]` };
      }
    }
  return worst;
}

const sync = (s: Partial<SyncConfig>): SyncConfig => ({ sync: 'step', allreduce: 'ring', compress: 'none', ...s });
const xOps = (r: RunResult) => r.trace.traceEvents.filter((e) => e.ph === 'X') as Extract<RunResult['trace']['traceEvents'][number], { ph: 'X' }>[];

test('step sync: R replicas (ring and naive, with and without stages) give the weights of unsplit training', async () => {
  const unsplit = await smallRun('mlp', { balance: [4], microbatches: 1 });
  const cases = [
    { plan: { balance: [4], microbatches: 2, replicas: 2 }, sync: sync({}) },
    { plan: { balance: [4], microbatches: 1, replicas: 4 }, sync: sync({}) },
    { plan: { balance: [4], microbatches: 1, replicas: 4 }, sync: sync({ allreduce: 'naive' }) },
    { plan: { balance: [2, 2], microbatches: 2, replicas: 2 }, sync: sync({}) },
    { plan: { balance: [2, 2], microbatches: 2, replicas: 2 }, sync: sync({ sync: 'layerwise' }) },
    { plan: { balance: [1, 3], microbatches: 2, replicas: 2 }, sync: sync({ sync: 'ps' }) },
  ];
  for (const c of cases) {
    const r = await smallRun('mlp', c.plan, { sync: c.sync });
    const { diff, where } = maxDiff(r.weights!, unsplit.weights!);
    assert.ok(diff < 2e-6, `${JSON.stringify(c)}: weights differ by ${diff} at ${where}`);
    r.losses.forEach((l, i) => assert.ok(Math.abs(l - unsplit.losses[i]) < 1e-5 * (1 + Math.abs(l)), `${JSON.stringify(c)} loss of step ${i}: ${l} vs ${unsplit.losses[i]}`));
  }
});

test('the transformer with replicas and stages is transparent too', async () => {
  const unsplit = await smallRun('transformer', { balance: [4], microbatches: 1 });
  const r = await smallRun('transformer', { balance: [2, 2], microbatches: 2, replicas: 2, schedule: 'gpipe' }, { sync: sync({ sync: 'layerwise' }) });
  const { diff, where } = maxDiff(r.weights!, unsplit.weights!);
  assert.ok(diff < 2e-6, `weights differ by ${diff} at ${where}`);
});

test('Pipe-SGD (pipelined): one step stale, the same with and without replicas, and not the synchronous result', async () => {
  const one = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { sync: sync({ sync: 'pipelined' }), steps: 4 });
  const two = await smallRun('mlp', { balance: [2, 2], microbatches: 2, replicas: 2 }, { sync: sync({ sync: 'pipelined' }), steps: 4 });
  const { diff, where } = maxDiff(two.weights!, one.weights!);
  assert.ok(diff < 2e-6, `weights differ by ${diff} at ${where}`);
  // Step 0 updates nothing and step 1 applies step 0's gradient: after 2 steps, the weights of 1 synchronous step.
  const twoStale = await smallRun('mlp', { balance: [2, 2], microbatches: 2, replicas: 2 }, { sync: sync({ sync: 'pipelined' }), steps: 2 });
  const oneSync = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { steps: 1 });
  assert.ok(maxDiff(twoStale.weights!, oneSync.weights!).diff < 2e-6);
  const synchronous = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { steps: 4 });
  assert.ok(maxDiff(synchronous.weights!, one.weights!).diff > 1e-4, 'stale updates differ from synchronous ones');
});

test('the trace has a row per stage × replica and every all-reduce hop, with its bytes', async () => {
  const r = await smallRun('mlp', { balance: [2, 2], microbatches: 2, replicas: 2 }, { sync: sync({}) });
  const ops = xOps(r);
  const pids = new Set(ops.map((e) => e.pid));
  assert.deepEqual([...pids].sort(), [0, 1, 2, 3]);
  for (const e of ops) assert.equal(e.args.replica, Math.floor(e.pid / 2), 'pid = stage + replica × stages');
  const hops = ops.filter((e) => e.args.op === 'ALLREDUCE' && e.args.step === 0);
  // Ring with R = 2: one reduce-scatter and one all-gather hop per worker.
  assert.equal(hops.length, 4 * 2);
  assert.ok(hops.every((e) => e.tid === 3 && (e.args.bytes ?? 0) > 0 && /reduce-scatter|all-gather/.test(e.name)));
  // Each hop carries half the stage's gradients: the stage's parameters × 4 bytes / 2.
  const names = r.trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => String((e as { args: Record<string, unknown> }).args.name));
  assert.ok(names.includes('stage 1 · replica 1 · layers 2–3'), names.join(' | '));
});

test('compression: fp16 and int8 are traced as their own ops, send fewer bytes and train close to uncompressed', async () => {
  const plain = await smallRun('mlp', { balance: [4], microbatches: 2, replicas: 2 }, { sync: sync({}) });
  const bytesOf = (r: RunResult) => xOps(r).filter((e) => e.args.op === 'ALLREDUCE').reduce((a, e) => a + (e.args.bytes ?? 0), 0);
  for (const [compress, ratio, tol] of [['fp16', 0.5, 1e-3], ['int8', 0.25, 3e-2]] as const) {
    const r = await smallRun('mlp', { balance: [4], microbatches: 2, replicas: 2 }, { sync: sync({ compress }) });
    const kinds = new Set(xOps(r).map((e) => e.args.op));
    assert.ok(kinds.has('COMPRESS') && kinds.has('DECOMPRESS'), `${compress}: ${[...kinds]}`);
    assert.ok(Math.abs(bytesOf(r) / bytesOf(plain) - ratio) < 0.01, `${compress}: ${bytesOf(r)} bytes vs ${bytesOf(plain)}`);
    const { diff } = maxDiff(r.weights!, plain.weights!);
    assert.ok(diff > 0 && diff < tol, `${compress}: weights differ by ${diff}`);
  }
});

test('a replica that dies during an all-reduce ends the run naming it; the partial trace is kept', async () => {
  const t = Date.now();
  const err = await smallRun('mlp', { balance: [2, 2], microbatches: 2, replicas: 2 }, { sync: sync({}), fault: { stage: 1, replica: 1, op: 'ALLREDUCE', step: 1, kind: 'exit' } }).then(
    () => assert.fail('should fail'),
    (e) => e,
  );
  assert.ok(err instanceof PipelineError);
  assert.match(err.message, /^stage 1, replica 1, op ALLREDUCE, step 1: worker exited with code 3$/);
  assert.equal(err.trace.pipeprof.status, 'failed');
  assert.equal(err.trace.pipeprof.steps.length, 1);
  assert.ok(Date.now() - t < 15_000);
});

test('a replica that hangs during an all-reduce is caught by the step timeout, naming where each worker waits', async () => {
  const err = await smallRun('mlp', { balance: [4], microbatches: 2, replicas: 2 }, { sync: sync({}), stepTimeoutMs: 1500, fault: { stage: 0, replica: 1, op: 'ALLREDUCE', step: 1, kind: 'hang' } }).then(
    () => assert.fail('should fail'),
    (e) => e,
  );
  assert.ok(err instanceof PipelineError);
  assert.match(err.message, /no progress for 1500 ms while waiting for step-done: .*stage 0 replica 1 waits in ALLREDUCE all \(step 1\)/);
  assert.equal(err.trace.pipeprof.steps.length, 1);
});

test('replicas must split every micro-batch evenly', async () => {
  await assert.rejects(smallRun('mlp', { balance: [4], microbatches: 4, replicas: 4 }), /replicas 4 must divide the micro-batch of 2 samples/);
});

test('PPRS trains at perturbed weights: a run differs from Nesterov, and smoothing 0 is exactly Nesterov', async () => {
  const base = { lr: 0.05, momentum: 0.9, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
  const nesterov = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { optimizer: { ...base, kind: 'nesterov', smoothing: 0 } });
  const flat = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { optimizer: { ...base, kind: 'pprs', smoothing: 0 } });
  const smooth = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { optimizer: { ...base, kind: 'pprs', smoothing: 0.05 } });
  assert.equal(maxDiff(flat.weights!, nesterov.weights!).diff, 0);
  assert.ok(maxDiff(smooth.weights!, nesterov.weights!).diff > 1e-4);
  assert.ok(smooth.losses.every(Number.isFinite));
});
