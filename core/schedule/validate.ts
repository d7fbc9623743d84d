// Checks a schedule: every op present once, sane order within a stage, and no deadlock across stages.
import type { Schedule, ScheduledOp } from './types';
import { opLabel } from './types';

export interface ScheduleShape {
  stages: number;
  microbatches: number;
  /** Model chunks per stage (virtual stages = stages × chunks); 1 unless interleaved. */
  chunks?: number;
  /** True when the backward is split into B (input grad) and W (weight grad). */
  splitW?: boolean;
}

const key = (o: { op: string; stage: number; microbatch: number; chunk?: number }) => `${o.op}:${o.stage}:${o.microbatch}:${o.chunk ?? 0}`;

/** The ops that must finish before `o` can start, on other stages or earlier in its own. */
export function dependencies(o: ScheduledOp, shape: ScheduleShape): ScheduledOp[] {
  const chunks = shape.chunks ?? 1;
  const S = shape.stages;
  const c = o.chunk ?? 0;
  const v = c * S + o.stage; // virtual stage
  const V = S * chunks;
  const at = (vs: number, op: ScheduledOp['op']): ScheduledOp => {
    const r: ScheduledOp = { op, stage: vs % S, microbatch: o.microbatch };
    if (chunks > 1) r.chunk = Math.floor(vs / S);
    return r;
  };
  switch (o.op) {
    case 'F':
      return v > 0 ? [at(v - 1, 'F')] : [];
    case 'R':
      return [at(v, 'F')];
    case 'B':
      return v < V - 1 ? [at(v + 1, 'B'), at(v, 'F')] : [at(v, 'F')];
    case 'W':
      return [at(v, 'B')];
  }
}

/** Problems with the schedule, one sentence each; empty when it is valid. */
export function validateSchedule(schedule: Schedule, shape: ScheduleShape): string[] {
  const problems: string[] = [];
  const chunks = shape.chunks ?? 1;
  if (schedule.length !== shape.stages) problems.push(`schedule has ${schedule.length} stages but the plan has ${shape.stages}`);
  const seen = new Map<string, number>();
  schedule.forEach((ops, s) =>
    ops.forEach((o) => {
      if (o.stage !== s) problems.push(`op ${opLabel(o)} names stage ${o.stage} but is listed under stage ${s}`);
      if (o.microbatch < 0 || o.microbatch >= shape.microbatches) problems.push(`op ${opLabel(o)} on stage ${s} has micro-batch ${o.microbatch} outside 0..${shape.microbatches - 1}`);
      const k = key(o);
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }),
  );
  const required: ScheduledOp['op'][] = shape.splitW ? ['F', 'B', 'W'] : ['F', 'B'];
  for (let s = 0; s < shape.stages; s++)
    for (let c = 0; c < chunks; c++)
      for (let m = 0; m < shape.microbatches; m++)
        for (const op of [...required, 'R' as const]) {
          const n = seen.get(key({ op, stage: s, microbatch: m, chunk: c })) ?? 0;
          const label = `${op}${m}${chunks > 1 ? `.${c}` : ''}`;
          if (op !== 'R' && n === 0) problems.push(`stage ${s} misses op ${label}`);
          if (n > 1) problems.push(`stage ${s} runs op ${label} ${n} times`);
        }
  if (!shape.splitW)
    for (const [k, n] of seen) if (k.startsWith('W:') && n > 0) problems.push(`op W appears but this schedule does not split the backward`);
  // Within a stage: R right before its B.
  schedule.forEach((ops, s) =>
    ops.forEach((o, i) => {
      if (o.op === 'R') {
        const next = ops[i + 1];
        if (!next || next.op !== 'B' || next.microbatch !== o.microbatch || (next.chunk ?? 0) !== (o.chunk ?? 0))
          problems.push(`stage ${s}: recompute ${opLabel(o)} must come right before its backward`);
      }
    }),
  );
  if (problems.length === 0) {
    const stuck = findDeadlock(schedule, shape);
    if (stuck) problems.push(stuck);
  }
  return problems;
}

/** Runs the schedule with unit-time ops; returns a description of the deadlock, or null. */
export function findDeadlock(schedule: Schedule, shape: ScheduleShape): string | null {
  const grid = unitTimeline(schedule, shape);
  if (grid.done) return null;
  const waiting = grid.next
    .map((i, s) => (i < schedule[s].length ? `stage ${s} waits at ${opLabel(schedule[s][i])}` : null))
    .filter((x): x is string => x !== null);
  return `schedule deadlocks: ${waiting.join(', ')}; every op's inputs must be produced earlier on its neighbour stage`;
}

/**
 * Replays the schedule with every op taking one tick and free communication.
 * `rows[s][t]` is the label of the op stage s runs at tick t, or '.' when idle.
 */
export function unitTimeline(schedule: Schedule, shape: ScheduleShape): { rows: string[][]; done: boolean; next: number[] } {
  const finished = new Map<string, number>(); // op key → tick it ended
  const next = schedule.map(() => 0);
  const rows: string[][] = schedule.map(() => []);
  let tick = 0;
  const total = schedule.reduce((n, ops) => n + ops.length, 0);
  let ran = 0;
  while (ran < total) {
    const started: ScheduledOp[] = [];
    for (let s = 0; s < schedule.length; s++) {
      const o = schedule[s][next[s]];
      if (o && dependencies(o, shape).every((d) => (finished.get(key(d)) ?? Infinity) <= tick)) {
        started.push(o);
        rows[s].push(opLabel(o));
        next[s]++;
      } else rows[s].push('.');
    }
    if (started.length === 0) return { rows, done: false, next };
    for (const o of started) finished.set(key(o), tick + 1);
    ran += started.length;
    tick++;
  }
  for (const r of rows) while (r.length && r[r.length - 1] === '.') r.pop();
  return { rows, done: true, next };
}
