// Real torch.distributed.pipelining traces (CPU, gloo; test/fixtures/torch-pp): each job imports as the pipeline it ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readRun } from '../../core/io/read-trace';
import type { Timeline } from '../../core/trace/timeline';
import { OP } from '../../core/trace/timeline';
import { buildReport } from '../../core/analysis/report';
import { bubbles } from '../../core/analysis/bubbles';

const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'torch-pp');

/** The truth of each job (test/fixtures/torch-pp/README.md): rank → [row, replica], plan, stages each rank runs. */
const JOBS = {
  'gpipe-2stage': { at: [[0, 0], [1, 0]], M: 4, schedule: 'gpipe', replicas: 1, perRank: 1, rule: 'Forward {i}', slow: null },
  '1f1b-3stage-slow': { at: [[0, 0], [1, 0], [2, 0]], M: 6, schedule: '1f1b', replicas: 1, perRank: 1, rule: 'p2p pattern', slow: 1 },
  '1f1b-2stage-2replica': { at: [[0, 0], [1, 0], [0, 1], [1, 1]], M: 4, schedule: '1f1b', replicas: 2, perRank: 1, rule: 'p2p pattern', slow: null },
  'interleaved-2rank': { at: [[0, 0], [1, 0]], M: 4, schedule: 'interleaved-1f1b', replicas: 1, perRank: 2, rule: 'PP:', slow: null },
  'zbv-2rank': { at: [[0, 0], [1, 0]], M: 4, schedule: 'zb-h1', replicas: 1, perRank: 2, rule: 'PP:', slow: null, stack: true },
} as const;
type Job = keyof typeof JOBS;

const cache = new Map<Job, Promise<{ timeline: Timeline; warnings: string[] }>>();
const load = (job: Job) => {
  if (!cache.has(job)) cache.set(job, readRun(path.join(DIR, job)));
  return cache.get(job)!;
};

type Ev = { ph?: string; cat?: string; name?: string; ts: number; dur: number; tid?: number };
/** A rank file's raw events. */
const events = (job: Job, rank: number): Ev[] =>
  (JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(DIR, job, `rank${rank}.json.gz`))).toString('utf8')).traceEvents as Ev[]).filter((e) => e.ph === 'X');

/**
 * The truth the trace itself gives, computed here from the raw events without the importer: CPU time per profiled step
 * in the layers' matrix products (aten::addmm, aten::mm: forward, input-grad and weight-grad alike; they never nest),
 * and the ProfilerStep#N span.
 */
function rawCompute(job: Job, rank: number): { computeUsPerStep: number; stepUs: number } {
  const ev = events(job, rank);
  const steps = ev.filter((e) => e.cat === 'user_annotation' && /^ProfilerStep#\d+$/.test(e.name ?? ''));
  const lo = Math.min(...steps.map((s) => s.ts));
  const hi = Math.max(...steps.map((s) => s.ts + s.dur));
  const work = ev.filter((e) => e.cat === 'cpu_op' && e.ts >= lo && e.ts < hi && (e.name === 'aten::addmm' || e.name === 'aten::mm'));
  return { computeUsPerStep: work.reduce((a, e) => a + e.dur, 0) / steps.length, stepUs: (hi - lo) / steps.length };
}

for (const job of Object.keys(JOBS) as Job[]) {
  const truth = JOBS[job];
  test(`${job}: ranks → stages and replicas, the plan, ops per stage and micro-batch, from the real engine's trace`, async () => {
    const { timeline: t, warnings } = await load(job);
    assert.ok(warnings.some((w) => w.startsWith('no rank file has GPU activity (a CPU-only profile): ops are timed by CPU ranges')), warnings.join('\n'));
    const S = 1 + Math.max(...truth.at.map(([s]) => s));
    assert.equal(t.stages, S);
    assert.deepEqual(
      t.ranks!.map((r) => [r.rank, r.stage, r.replica]).sort((a, b) => a[0] - b[0]),
      truth.at.map(([s, r], rank) => [rank, s, r]),
    );
    assert.ok(t.ranks!.every((r) => r.opsRule === truth.rule && r.timedOn === 'cpu'), JSON.stringify(t.ranks!.map((r) => r.opsRule)));
    assert.equal(t.plan!.schedule, truth.schedule);
    assert.equal(t.plan!.microbatches, truth.M);
    assert.equal(t.plan!.replicas, truth.replicas);
    assert.equal(t.steps.length, 2, 'ProfilerStep#2 and #3');
    // Per stage, replica and step: every micro-batch's F and B once per stage the rank runs (chunks), W too with ZBV.
    const o = t.ops;
    const kinds = truth.schedule === 'zb-h1' ? [OP.F, OP.B, OP.W] : [OP.F, OP.B];
    for (const [s, r] of truth.at)
      for (const st of t.steps)
        for (const k of kinds) {
          const mbs: number[] = [];
          for (let i = 0; i < o.length; i++) if (o.stage[i] === s && o.replica[i] === r && o.step[i] === st.step && o.kind[i] === k) mbs.push(o.microbatch[i]);
          const want = Array.from({ length: truth.M }, (_, m) => Array(truth.perRank).fill(m)).flat();
          assert.deepEqual(mbs.sort((a, b) => a - b), want, `stage ${s} replica ${r} step ${st.step} kind ${k}`);
        }
    // Sends and receives name the neighbouring stage.
    for (let i = 0; i < o.length; i++)
      if ((o.kind[i] === OP.SEND || o.kind[i] === OP.RECV) && truth.perRank === 1) assert.ok(Math.abs(o.peer[i] - o.stage[i]) === 1, `peer ${o.peer[i]} of stage ${o.stage[i]}`);
  });

  test(`${job}: the straggler, and utilization and bubbles against the compute the raw events hold`, async () => {
    const { timeline: t } = await load(job);
    const report = buildReport(t);
    const raw = truth.at.map((_, rank) => rawCompute(job, rank));
    // The report's straggler is the stage the raw events say computes most; a slow stage stands far out, balanced ones do not.
    const perStage = Array.from({ length: t.stages }, (_, s) => {
      const on = truth.at.map(([st], rank) => (st === s ? raw[rank].computeUsPerStep : NaN)).filter((x) => !Number.isNaN(x));
      return on.reduce((a, b) => a + b, 0) / on.length;
    });
    if (truth.slow !== null) {
      assert.equal(report.straggler.stage, truth.slow);
      assert.equal(perStage.indexOf(Math.max(...perStage)), truth.slow);
      assert.ok(report.straggler.overMeanFraction > 0.5, `straggler ${report.straggler.overMeanFraction}`);
    } else assert.ok(report.straggler.overMeanFraction < 0.5, `no stage should stand out: ${report.straggler.overMeanFraction}`);
    // Busy time covers the layers' compute (it also holds the ops between and the gaps inside an op), and the split adds up.
    const bb = bubbles(t);
    for (const st of report.stages) {
      const b = bb.stages[st.stage];
      assert.ok(st.utilization > 0 && st.utilization <= 1, `utilization ${st.utilization}`);
      assert.ok(b.bubbleFraction >= 0 && b.bubbleFraction < 1, `bubble ${b.bubbleFraction}`);
      const sum = b.computeMs + b.waitingMs + b.transferMs + b.collectiveMs + b.idleMs;
      assert.ok(Math.abs(sum - b.stepMs) <= 0.01 * b.stepMs + 1e-6, `split ${sum} vs step ${b.stepMs}`);
      const layers = perStage[st.stage] / 1000;
      assert.ok(b.computeMs >= 0.9 * layers, `stage ${st.stage}: compute ${b.computeMs} ms ≥ the layers' ${layers} ms`);
      // Around the products: bias, ReLU, loss, the autograd engine and Python between ops (1.4–2.1× here); with_stack's
      // Python events (zbv) cost more. Waiting counted as compute would be far above (every stage waits 5–60 ms a step).
      const most = 'stack' in truth ? 5 : 3;
      assert.ok(b.computeMs <= most * layers, `stage ${st.stage}: compute ${b.computeMs} ms is not far above the layers' ${layers} ms`);
    }
    // The waiting a rank spends blocked in gloo receives is bubble, not compute: every stage waits somewhere.
    assert.ok(bb.stages.every((b) => b.waitingMs > 0));
  });
}

test('the data-parallel job all-reduces gradients once per parameter per step, and the fixture rows carry it as ALLREDUCE', async () => {
  const { timeline: t } = await load('1f1b-2stage-2replica');
  const o = t.ops;
  for (const [s, r] of JOBS['1f1b-2stage-2replica'].at)
    for (const st of t.steps) {
      let n = 0;
      for (let i = 0; i < o.length; i++) if (o.stage[i] === s && o.replica[i] === r && o.step[i] === st.step && o.kind[i] === OP.ALLREDUCE) n++;
      assert.equal(n, 4, `stage ${s} replica ${r} step ${st.step}: 2 layers × (weight, bias)`);
    }
});
