// Pipelines of every engine from their Kineto traces: stages, ops, micro-batches, utilization, straggler and bubble split against the generator's truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timelineFromKineto } from '../../core/trace/kineto';
import type { Timeline } from '../../core/trace/timeline';
import { opAt } from '../../core/trace/timeline';
import { buildReport } from '../../core/analysis/report';
import { criticalPath } from '../../core/analysis/critical-path';
import { readRank } from './kineto-read';
import type { PPRun, PPRunOptions } from '../fixtures/kineto-pp';
import { ppRun, stageOrder } from '../fixtures/kineto-pp';

const near = (a: number, b: number, tol: number, msg: string) => assert.ok(Math.abs(a - b) <= tol, `${msg}: ${a} vs ${b}`);

/** Length of the union of intervals. */
function unionLen(iv: [number, number][]): number {
  const s = iv.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let sum = 0;
  let end = -Infinity;
  for (const [a, b] of s) {
    if (b <= end) continue;
    sum += b - Math.max(a, end);
    end = b;
  }
  return sum;
}

/**
 * The truth of a generated run per stage (averaged over replicas and steps): utilization = compute / iteration period;
 * waiting = a RECV's time before its data left the peer, transfer = commUs of each SEND and RECV, on the stage's own time.
 */
function truth(run: PPRun, S: number, R: number, commUs: number) {
  return Array.from({ length: S }, (_, s) => {
    const rows = run.steps.flatMap((w) =>
      Array.from({ length: R }, (_, r) => {
        const mine = run.ops.filter((o) => o.stage === s && o.replica === r && o.step === w.step);
        const period = w.periodEnd - w.periodStart;
        const c: [number, number][] = mine.filter((o) => o.op === 'F' || o.op === 'B' || o.op === 'OPT').map((o) => [o.start, o.end]);
        const wait: [number, number][] = mine.filter((o) => o.op === 'RECV').map((o) => [o.start, o.end - commUs]);
        const tx: [number, number][] = mine.filter((o) => o.op === 'RECV' || o.op === 'SEND').map((o) => [o.end - commUs, o.end]);
        const cu = unionLen(c);
        const cw = unionLen([...c, ...wait]);
        const cwx = unionLen([...c, ...wait, ...tx]);
        return { util: cu / period, waiting: (cw - cu) / period, transfer: (cwx - cw) / period, bubble: (period - cwx + cw - cu) / period };
      }),
    );
    const avg = (f: (x: (typeof rows)[number]) => number) => rows.reduce((a, x) => a + f(x), 0) / rows.length;
    return { util: avg((x) => x.util), waiting: avg((x) => x.waiting), transfer: avg((x) => x.transfer), bubble: avg((x) => x.bubble) };
  });
}

const RULE: Record<NonNullable<PPRunOptions['engine']>, string> = {
  pp: 'PP:', gpipe: 'Forward {i}', bare: 'p2p pattern', deepspeed: 'DeepSpeed _exec_*', megatron: 'Megatron forward_step',
};

/** Imports a generated run (rank files in reverse order, read in batches) and checks everything the engine must give. */
function check(o: PPRunOptions & { engine: NonNullable<PPRunOptions['engine']> }): Timeline {
  const S = o.stages;
  const M = o.microbatches;
  const R = o.replicas ?? 1;
  const comm = o.commUs ?? 40;
  const run = ppRun(o);
  const { timeline: t, warnings } = timelineFromKineto(run.ranks.map((r, i) => readRank(r, `rank${i}.json`, 97)).reverse());
  const what = `${o.engine} ${o.schedule} S=${S} M=${M} R=${R}`;
  assert.deepEqual(warnings.filter((w) => !/clock skew not estimated|plan guessed/.test(w)), [], what);
  assert.ok(warnings.some((w) => w.includes(`plan guessed from the ops (identified by ${RULE[o.engine]})`)), `${what}: ${warnings.join('\n')}`);
  // Stages and replicas from the process groups, whatever the rank order.
  assert.equal(t.stages, S);
  assert.equal(t.plan!.microbatches, M, what);
  assert.equal(t.plan!.schedule, o.schedule, what);
  assert.equal(t.plan!.replicas, R);
  for (const info of t.ranks!) {
    assert.equal(run.rankOf[info.stage][info.replica], info.rank, `${what}: rank ${info.rank} at stage ${info.stage} replica ${info.replica}`);
    assert.equal(info.opsRule, RULE[o.engine]);
  }
  // Every F and B at its GPU time with its micro-batch, in the schedule's order.
  const ops = Array.from({ length: t.ops.length }, (_, i) => opAt(t.ops, i));
  for (const g of run.ops.filter((x) => x.op === 'F' || x.op === 'B')) {
    const got = ops.find((x) => x.kind === g.op && x.stage === g.stage && (x.replica ?? 0) === g.replica && x.step === g.step && x.microbatch === g.microbatch);
    assert.ok(got, `${what}: missing ${g.op}${g.microbatch} on stage ${g.stage} replica ${g.replica} step ${g.step}`);
    near(got!.start, g.start - run.origin, 1e-6, `${what} ${g.op}${g.microbatch} s${g.stage} start`);
    near(got!.dur, g.end - g.start, 1e-6, `${what} ${g.op}${g.microbatch} s${g.stage} dur`);
  }
  for (let s = 0; s < S; s++)
    for (let r = 0; r < R; r++)
      for (const st of run.steps.map((w) => w.step)) {
        const mine = ops.filter((x) => x.stage === s && (x.replica ?? 0) === r && x.step === st);
        assert.deepEqual(mine.filter((x) => x.kind === 'F' || x.kind === 'B').map((x) => [x.kind, x.microbatch]), stageOrder(o.schedule, S, M, s), `${what} order s${s}`);
        const neighbours = (s > 0 ? 1 : 0) + (s < S - 1 ? 1 : 0);
        assert.equal(mine.filter((x) => x.kind === 'SEND').length, M * neighbours);
        assert.equal(mine.filter((x) => x.kind === 'RECV').length, M * neighbours);
        for (const x of mine.filter((y) => y.kind === 'SEND' || y.kind === 'RECV')) assert.ok(x.peer === s - 1 || x.peer === s + 1, `${what} peer ${x.peer} of s${s}`);
      }
  // Steps are the iteration period of the first stage.
  run.steps.slice(0, -1).forEach((w, k) => near(t.steps[k].endUs - t.steps[k].startUs, w.periodEnd - w.periodStart, 1e-6, `${what} step ${w.step} period`));
  // Utilization, straggler and the bubble split within 2 points of the truth.
  const rep = buildReport(t);
  const want = truth(run, S, R, comm);
  rep.stages.forEach((st, s) => {
    near(st.utilization, want[s].util, 0.02, `${what} stage ${s} utilization`);
    near(st.bubbleFraction, want[s].bubble, 0.02, `${what} stage ${s} bubble`);
    near(st.waitingMs / (rep.stages[s].perStep[0].stepMs), want[s].waiting, 0.02, `${what} stage ${s} waiting`);
    near(st.transferMs / (rep.stages[s].perStep[0].stepMs), want[s].transfer, 0.02, `${what} stage ${s} transfer`);
  });
  for (const x of ops.filter((y) => y.kind === 'SEND' || y.kind === 'RECV')) assert.equal(x.bytes, 2 * 2 ** 20, 'bf16 activation of 2^20 elements');
  for (const st of rep.stages) assert.equal(st.busyMs.KERNEL, undefined, 'kernels under the pipeline ops are not counted twice');
  const cp = criticalPath(t);
  assert.ok(cp.pathMs > 0 && cp.pathMs <= cp.stepMs + 1e-9 && cp.ops.some((x) => x.kind === 'F') && cp.ops.some((x) => x.kind === 'B'));
  const fUs = Array.isArray(o.fUs) ? o.fUs : null;
  if (fUs) assert.equal(rep.straggler.stage, fUs.indexOf(Math.max(...fUs)), `${what} straggler`);
  return t;
}

const slow = [900, 1000, 1500, 1000];

test('torch PP: annotations, 1F1B, 4 stages × 2 replicas in a rank order that is not the stage order: backward kernels from the autograd thread', () => {
  const t = check({ engine: 'pp', schedule: '1f1b', stages: 4, microbatches: 8, replicas: 2, rankOf: (s, r) => s * 2 + r, fUs: slow, bUs: 2000, commUs: 60 });
  // rank 2 is stage 1 of replica 0: pp groups [0,2,4,6] and [1,3,5,7].
  assert.deepEqual(t.ranks!.map((r) => [r.rank, r.stage, r.replica]).slice(0, 4), [[0, 0, 0], [1, 0, 1], [2, 1, 0], [3, 1, 1]]);
});

test('torch PP: annotations without GPU twins: still timed by the kernels they launched', () => {
  check({ engine: 'pp', schedule: 'gpipe', stages: 3, microbatches: 6, gpuAnnotations: false, fUs: [800, 1200, 900], bUs: 1800 });
});

test('torch ScheduleGPipe (Forward {i} / Backward {i}), 4 stages, 8 micro-batches, a straggler', () => {
  check({ engine: 'gpipe', schedule: 'gpipe', stages: 4, microbatches: 8, fUs: slow, bUs: 2000 });
});

test('torch Schedule1F1B (no marker at all): ops from the p2p pattern and the autograd thread; 2 replicas, 16 micro-batches', () => {
  check({ engine: 'bare', schedule: '1f1b', stages: 4, microbatches: 16, replicas: 2, fUs: slow, bUs: 2100, commUs: 50 });
});

test('torch Schedule1F1B on 8 stages (files given last rank first), the straggler on stage 6', () => {
  check({ engine: 'bare', schedule: '1f1b', stages: 8, microbatches: 8, fUs: [1000, 1000, 1000, 1000, 1000, 1000, 1600, 1000] });
});

test('DeepSpeed PipelineEngine (_exec_* python functions, pairwise p2p groups), 1F1B, 3 stages × 2 replicas', () => {
  check({ engine: 'deepspeed', schedule: '1f1b', stages: 3, microbatches: 6, replicas: 2, rankOf: (s, r) => r * 3 + (2 - s), fUs: [700, 1300, 900], bUs: 1500 });
});

test('Megatron-core (forward_step / backward_step and p2p functions), 1F1B, 4 stages, 2 replicas', () => {
  check({ engine: 'megatron', schedule: '1f1b', stages: 4, microbatches: 8, replicas: 2, rankOf: (s, r) => s * 2 + r, fUs: slow, bUs: 2000 });
});

test('2 stages, GPipe by the p2p pattern', () => {
  check({ engine: 'bare', schedule: 'gpipe', stages: 2, microbatches: 4, fUs: [1000, 1300] });
});
