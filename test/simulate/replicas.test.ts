// The simulator with replicas: all-reduce time by algorithm and compression, the four sync modes, and calibration from a real replicated run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allReduceMs, parameterServerMs } from '../../core/simulate/cost-model';
import { simulate } from '../../core/simulate/simulate';
import { calibrate } from '../../core/simulate/calibrate';
import { timelineFromTrace } from '../../core/trace/import';
import { buildReport } from '../../core/analysis/report';
import type { Plan, SyncConfig } from '../../core/plan/types';
import { OP } from '../../core/trace/timeline';
import { median } from '../../core/runtime/executor';
import { smallRun } from '../runtime/run';
import { plan, stepMs, summaries, unitCosts } from './helpers';

const near = (a: number, b: number, what: string, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const withSync = (p: Plan, R: number, s: Partial<SyncConfig>): Plan => ({ ...p, replicas: R, sync: { sync: 'step', allreduce: 'ring', compress: 'none', ...s } });

test('all-reduce time: ring moves 2(R−1)/R of the buffer, naive 2(R−1) buffers; compression shrinks the wire bytes', () => {
  const c = unitCosts(2);
  c.link = { latencyMs: 0.1, bytesPerMs: 1000 };
  near(allReduceMs(c, 8000, 4, 'ring', 'none'), 6 * (0.1 + 2000 / 1000), 'ring');
  near(allReduceMs(c, 8000, 4, 'naive', 'none'), 6 * (0.1 + 8000 / 1000), 'naive');
  near(allReduceMs(c, 8000, 4, 'ring', 'fp16'), 6 * (0.1 + 1000 / 1000), 'fp16');
  c.codecMsPerByte = { fp16: 1e-4, int8: 1e-4 };
  near(allReduceMs(c, 8000, 4, 'ring', 'int8'), 6 * (0.1 + 500 / 1000 + 2000 * 1e-4), 'int8 with codec time');
  near(allReduceMs(c, 8000, 1, 'ring', 'none'), 0, 'one replica');
  near(parameterServerMs(c, 1000, 2, 'none', 3), 0.2 + 2 + 3 + 2, 'ps');
});

test('sync modes on a slow link: step pays the whole all-reduce, layer-wise hides part of it under backward, Pipe-SGD under the next step', () => {
  const c = unitCosts(4, { f: 1, b: 2, params: 40_000 });
  c.link = { latencyMs: 0, bytesPerMs: 10_000 };
  const p = plan([4], 2);
  const layers = summaries(c);
  const one = stepMs(simulate({ plan: p, batch: 4, costs: c, layers }));
  const time = (s: Partial<SyncConfig>) => {
    const t = simulate({ plan: withSync(p, 2, s), batch: 4, costs: c, layers, steps: 3 });
    return stepMs(t, 2);
  };
  const ar = allReduceMs(c, 4 * 40_000, 2, 'ring', 'none'); // 16 ms
  // Replicas halve the samples per op: compute is half of one replica's.
  const computeHalf = one / 2;
  near(time({ sync: 'step' }), computeHalf + ar, 'step');
  const lw = time({ sync: 'layerwise' });
  assert.ok(lw < computeHalf + ar && lw > computeHalf, `layerwise ${lw}`);
  const pipelined = time({ sync: 'pipelined' });
  // Steady state: a step lasts as long as the longer of its compute and the all-reduce running beside it.
  near(pipelined, Math.max(computeHalf, ar), 'pipelined');
  assert.ok(time({ compress: 'fp16' }) < time({}), 'fp16 halves the wire time');
  assert.ok(time({ allreduce: 'naive' }) > time({}), 'naive moves the whole buffer twice, ring half of it twice');
  const t = simulate({ plan: withSync(p, 2, { sync: 'layerwise' }), batch: 4, costs: c, layers });
  const hops = Array.from({ length: t.ops.length }, (_, i) => i).filter((i) => t.ops.kind[i] === OP.ALLREDUCE);
  assert.equal(hops.length, 4, 'one all-reduce per layer with weights');
  const r = buildReport(t);
  assert.ok(r.allreduceMs > 0 && r.allreduceOverlapFraction! > 0 && r.allreduceOverlapFraction! < 1, JSON.stringify([r.allreduceMs, r.allreduceOverlapFraction]));
});

test('calibrated on a real run with replicas, the simulator predicts that run, and its report shows the all-reduce', async () => {
  const run = await smallRun('mlp', { balance: [2, 2], microbatches: 2, replicas: 2 }, { sync: { sync: 'step', allreduce: 'ring', compress: 'none' }, steps: 6, warmup: 1 });
  const measured = timelineFromTrace(JSON.parse(JSON.stringify(run.trace)), 'run.pptrace.json');
  assert.equal(measured.plan!.replicas, 2);
  assert.deepEqual(measured.plan!.sync, { sync: 'step', allreduce: 'ring', compress: 'none' });
  const c = calibrate(measured);
  assert.ok(c.reduceLink && c.reduceLink.bytesPerMs > 0, 'replica link fitted from the all-reduce hops');
  const predicted = stepMs(simulate({ plan: measured.plan!, batch: measured.batch!, costs: c, layers: measured.layers }));
  const measuredMs = median(run.stepTimesMs);
  // Tiny steps on a shared machine: the point is the order of magnitude and that nothing is left out.
  assert.ok(predicted > 0.3 * measuredMs && predicted < 3 * measuredMs, `predicted ${predicted} vs measured ${measuredMs}`);
  // Without the all-reduce the prediction would lose the replica link's whole share.
  const noSync = stepMs(simulate({ plan: { ...measured.plan!, replicas: 1, sync: undefined }, batch: measured.batch! / 2, costs: c, layers: measured.layers }));
  assert.ok(predicted > noSync, `${predicted} vs ${noSync} without all-reduce`);
  const rep = buildReport(measured);
  assert.ok(rep.allreduceMs > 0);
  assert.ok(rep.stages.every((s) => s.allreduceMs > 0));
});

test('the recommender, given a worker count, chooses stages × replicas and the sync mode by predicted step time', async () => {
  const { recommend } = await import('../../core/recommend/recommend');
  // Heavy compute, light weights: replicas win (each takes a share of the batch, all-reduce is cheap).
  const c = unitCosts(4, { f: 1, b: 2, mb: 1, params: 400 });
  c.link = { latencyMs: 0.01, bytesPerMs: 1e6 };
  const traced = plan([2, 2], 2);
  const best = recommend({ costs: c, layers: summaries(c), batch: 16, traced, workers: 4, top: 50 });
  assert.equal(best[0].replicas, 4, JSON.stringify(best[0]));
  assert.ok(best.some((p) => p.replicas === 2 && p.balance.length === 2), 'a 2 × 2 split was tried');
  assert.ok(best.every((p) => (p.balance.length / (p.chunks ?? 1)) * p.replicas === 4));
  // Heavy weights on a slow link: the all-reduce costs more than the pipeline's bubble, so stages win.
  const heavy = unitCosts(4, { f: 1, b: 2, mb: 1, params: 4e6 });
  heavy.link = { latencyMs: 0.01, bytesPerMs: 1e4 };
  const best2 = recommend({ costs: heavy, layers: summaries(heavy), batch: 16, traced, workers: 4, top: 5 });
  assert.equal(best2[0].replicas, 1, JSON.stringify(best2[0]));
  // Where replicas win on a slow link, layer-wise sync ranks above step sync.
  const mid = unitCosts(4, { f: 4, b: 8, mb: 1, params: 40_000 });
  mid.link = { latencyMs: 0.01, bytesPerMs: 1e4 };
  const r2 = recommend({ costs: mid, layers: summaries(mid), batch: 16, traced: plan([4], 1), workers: 2, top: 50 }).filter((p) => p.replicas === 2);
  assert.equal(r2[0].sync?.sync, 'layerwise', JSON.stringify(r2.slice(0, 3)));
});
