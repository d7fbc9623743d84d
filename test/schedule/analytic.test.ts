// The analytic bubble of every schedule, proved by replaying the schedules with op costs and measuring idle over step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyticBubble, buildSchedule, dependencies, unitTimeline, zbH1, oneFOneB } from '../../core/schedule';
import type { Schedule, ScheduledOp } from '../../core/schedule';
import type { Plan, ScheduleName } from '../../core/plan/types';
import type { ScheduleShape } from '../../core/schedule/validate';
import { analyticBubble as utilizationBubble } from '../../core/analysis/utilization';

type Costs = Record<ScheduledOp['op'], number>;
const key = (o: ScheduledOp) => `${o.op}:${o.stage}:${o.microbatch}:${o.chunk ?? 0}`;

/**
 * Runs each stage's ops in order, each as soon as its stage is free and its dependencies have ended (free
 * communication). Returns the step (last end) and, per stage, idle = step − busy, as utilization.ts measures it.
 */
function replay(schedule: Schedule, shape: ScheduleShape, cost: Costs): { step: number; idle: number[] } {
  const end = new Map<string, number>();
  const next = schedule.map(() => 0);
  const free = schedule.map(() => 0);
  const busy = schedule.map(() => 0);
  for (let progressed = true; progressed; ) {
    progressed = false;
    schedule.forEach((ops, s) => {
      const o = ops[next[s]];
      if (!o) return;
      const ready = dependencies(o, shape).map((d) => end.get(key(d)));
      if (ready.some((t) => t === undefined)) return;
      free[s] = Math.max(free[s], ...(ready as number[])) + cost[o.op];
      busy[s] += cost[o.op];
      end.set(key(o), free[s]);
      next[s]++;
      progressed = true;
    });
  }
  assert.ok(next.every((n, s) => n === schedule[s].length), 'replay deadlocked');
  const step = Math.max(...free);
  return { step, idle: busy.map((b) => step - b) };
}

const measured = (r: { step: number; idle: number[] }) => r.idle.reduce((a, b) => a + b, 0) / r.idle.length / r.step;
const plan = (schedule: ScheduleName, S: number, M: number, chunks = 1): Plan => ({ balance: Array(S * chunks).fill(1), microbatches: M, schedule, recompute: 'never', replicas: 1, ...(chunks > 1 ? { chunks } : {}) });
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: measured ${a}, analytic ${b}`);

test('gpipe and 1f1b: (S−1)/(M+S−1), for F = 1 with B = 1 and with B = 2', () => {
  for (const schedule of ['gpipe', '1f1b'] as const)
    for (const B of [1, 2])
      for (let S = 1; S <= 8; S++)
        for (let M = 1; M <= 16; M++) {
          const r = replay(buildSchedule(plan(schedule, S, M)), { stages: S, microbatches: M }, { F: 1, B, W: 0, R: 0 });
          close(measured(r), (S - 1) / (M + S - 1), `${schedule} B=${B} S=${S} M=${M}`);
          assert.equal(analyticBubble(plan(schedule, S, M)), (S - 1) / (M + S - 1));
        }
});

test('interleaved-1f1b: k/(vM+k), k = (S−1) + (v−1)·max(0, S−M); (S−1)/(vM+S−1) once M ≥ S (chunk F = 1, B = 1 and B = 2)', () => {
  let n = 0;
  for (const B of [1, 2])
    for (let v = 2; v <= 4; v++)
      for (let S = 1; S <= 8; S++)
        for (let M = 1; M <= 16; M++) {
          const p = plan('interleaved-1f1b', S, M, v);
          const want = analyticBubble(p);
          if (want === null) continue; // M not allowed by the rounds rule
          const r = replay(buildSchedule(p), { stages: S, microbatches: M, chunks: v }, { F: 1, B, W: 0, R: 0 });
          // Every stage idles the same: k chunk-steps of F + B.
          const k = S - 1 + (v - 1) * Math.max(0, S - M);
          assert.deepEqual(r.idle, Array(S).fill(k * (1 + B)), `v=${v} S=${S} M=${M}`);
          close(measured(r), want, `interleaved B=${B} v=${v} S=${S} M=${M}`);
          if (M >= S) assert.equal(want, (S - 1) / (v * M + S - 1));
          n++;
        }
  assert.equal(n, 2 * 3 * 106);
});

test('zb-h1 with F = B = W = 1: idle per stage (S−1)(F+B−W) = S−1 once M ≥ S, a third of 1F1B’s (S−1)(F+B+W)', () => {
  for (let S = 1; S <= 8; S++)
    for (let M = 1; M <= 16; M++) {
      // unitTimeline is the replay with every op one tick: count the idle ticks within the step.
      const rows = unitTimeline(zbH1({ stages: S, microbatches: M }), { stages: S, microbatches: M, splitW: true }).rows;
      const step = Math.max(...rows.map((r) => r.length));
      const idle = rows.map((r) => step - r.filter((c) => c !== '.').length);
      const k = S - 1 + Math.max(0, S - M);
      assert.deepEqual(idle, Array(S).fill(k), `S=${S} M=${M}`);
      assert.equal(step, 3 * M + k);
      close(analyticBubble(plan('zb-h1', S, M))!, k / (3 * M + k), `zb-h1 S=${S} M=${M}`);
      // 1F1B with the same work, B and W fused into one backward of 2: idle (S−1)·3.
      const fused = replay(oneFOneB({ stages: S, microbatches: M }), { stages: S, microbatches: M }, { F: 1, B: 2, W: 0, R: 0 });
      assert.deepEqual(fused.idle, Array(S).fill(3 * (S - 1)));
      if (M >= S) assert.equal(3 * idle[0], fused.idle[0]);
    }
  // The same shape, (S−1)(F+B−W), with W smaller than B (M ≥ S).
  for (let S = 2; S <= 6; S++) {
    const r = replay(zbH1({ stages: S, microbatches: 2 * S }), { stages: S, microbatches: 2 * S, splitW: true }, { F: 1, B: 1, W: 0.5, R: 0 });
    assert.deepEqual(r.idle, Array(S).fill((S - 1) * 1.5));
  }
});

test('analyticBubble: closed forms, null for a plan that cannot be scheduled; utilization.ts reports the same', () => {
  assert.equal(analyticBubble(plan('interleaved-1f1b', 4, 8, 2)), 3 / 19);
  assert.equal(analyticBubble(plan('interleaved-1f1b', 4, 8)), 3 / 11); // chunks 1: 1F1B
  assert.equal(analyticBubble(plan('zb-h1', 4, 8)), 3 / 27);
  assert.equal(analyticBubble(plan('1f1b', 4, 8)), 3 / 11);
  assert.equal(analyticBubble(plan('zb-h1', 4, 2)), 5 / 11);
  assert.equal(analyticBubble(plan('interleaved-1f1b', 4, 9, 2)), null);
  assert.equal(analyticBubble({ ...plan('zb-h1', 4, 8), chunks: 2 }), null);
  assert.equal(analyticBubble(plan('gpipe', 4, 0)), null);
  for (const p of [plan('zb-h1', 4, 8), plan('interleaved-1f1b', 3, 6, 3), plan('gpipe', 2, 4)]) assert.equal(utilizationBubble(p), analyticBubble(p));
});
