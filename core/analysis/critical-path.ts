// Critical path and straggler: the chain of ops that bounds a step, walked back from its last op, and the busiest stage.
import type { OpKind } from '../schedule/types';
import type { Timeline } from '../trace/timeline';
import { OP_KINDS } from '../trace/timeline';
import type { Utilization } from './utilization';
import { AnalysisError, measuredSteps, median, utilization } from './utilization';

export interface PathOp {
  /** Row in the timeline's op table. */
  row: number;
  kind: OpKind;
  stage: number;
  microbatch: number | null;
  /** For SEND/RECV: the other stage. */
  peer: number | null;
  /** Milliseconds from the step start. */
  startMs: number;
  durMs: number;
  /** The part of the op after the previous path op ended: a RECV that waited overlaps its producer, and only its tail counts. */
  onPathMs: number;
}

export interface CriticalPath {
  step: number;
  stepMs: number;
  /** First op to last. */
  ops: PathOp[];
  /** Sum of the path's onPathMs; the rest of the step (gapMs) is time between path ops (scheduling, messages). */
  pathMs: number;
  gapMs: number;
  /** Path time by op kind, ms. */
  byKind: Partial<Record<OpKind, number>>;
  /** Path time spent on each stage's ops, ms (SEND/RECV count for the stage that ran them). */
  byStage: number[];
}

export interface Straggler {
  stage: number;
  busyMs: number;
  meanBusyMs: number;
  overMeanMs: number;
  /** busy / mean busy − 1. */
  overMeanFraction: number;
}

const F = OP_KINDS.indexOf('F');
const B = OP_KINDS.indexOf('B');
const SEND = OP_KINDS.indexOf('SEND');
const RECV = OP_KINDS.indexOf('RECV');

/** The measured step whose duration is nearest the median (the first of ties). */
export function typicalStep(t: Timeline): number {
  const steps = measuredSteps(t);
  const m = median(steps.map((s) => s.endUs - s.startUs));
  let best = steps[0];
  for (const s of steps) if (Math.abs(s.endUs - s.startUs - m) < Math.abs(best.endUs - best.startUs - m)) best = s;
  return best.step;
}

/**
 * Walks back from the compute op that ends last in `step`. Each op's predecessor is whichever of its dependencies
 * finished last: the previous op on its stage, or, for an F (B) that received its input, the neighbour's F (B) that
 * produced it, through that neighbour's SEND and this stage's RECV (RECV spans the wait, so it sits on the path).
 */
export function criticalPath(t: Timeline, step: number = typicalStep(t)): CriticalPath {
  const rec = t.steps.find((s) => s.step === step);
  if (!rec) throw new AnalysisError(`step ${step} is not in the trace (steps: ${t.steps.map((s) => s.step).join(', ') || 'none'})`);
  const o = t.ops;
  const rows: number[] = [];
  for (let i = 0; i < o.length; i++) if (o.step[i] === step) rows.push(i);
  const key = (s: number, r: number, m: number, c: number) => `${s}:${r}:${m}:${c}`;
  /** Previous compute row on the same stage × replica, by row. */
  const prevOnStage = new Map<number, number>();
  const lastOnStage = new Map<string, number>();
  /** (kind, stage, replica, micro-batch, chunk) → compute row; (stage, replica, peer, micro-batch, chunk) → SEND / RECV row. */
  const computeAt = new Map<string, number>();
  const sendAt = new Map<string, number>();
  const recvAt = new Map<string, number>();
  let last = -1;
  for (const i of rows) {
    const sr = `${o.stage[i]}:${o.replica[i]}`;
    if (o.lane[i] === 0) {
      const p = lastOnStage.get(sr);
      if (p !== undefined) prevOnStage.set(i, p);
      lastOnStage.set(sr, i);
      computeAt.set(`${o.kind[i]}:${key(o.stage[i], o.replica[i], o.microbatch[i], o.chunk[i])}`, i);
      if (last < 0 || o.start[i] + o.dur[i] >= o.start[last] + o.dur[last]) last = i;
    } else if (o.kind[i] === SEND) sendAt.set(`${key(o.stage[i], o.replica[i], o.microbatch[i], o.chunk[i])}:${o.peer[i]}`, i);
    else if (o.kind[i] === RECV) recvAt.set(`${key(o.stage[i], o.replica[i], o.microbatch[i], o.chunk[i])}:${o.peer[i]}`, i);
  }
  if (last < 0) throw new AnalysisError(`step ${step} has no compute ops in the trace; the trace holds no ops for it (recorded with the recorder off?)`);

  const end = (i: number) => o.start[i] + o.dur[i];
  const chain: number[] = [];
  const seen = new Set<number>();
  let cur = last;
  while (cur >= 0 && !seen.has(cur)) {
    seen.add(cur);
    chain.push(cur);
    const s = o.stage[cur];
    const r = o.replica[cur];
    const m = o.microbatch[cur];
    const c = o.chunk[cur];
    const prev = prevOnStage.get(cur) ?? -1;
    // The producer of this op's input on a neighbouring stage, if any.
    let peer = -1;
    if (o.kind[cur] === F && s > 0) peer = s - 1;
    else if (o.kind[cur] === B && s < t.stages - 1) peer = s + 1;
    const producer = peer < 0 ? undefined : computeAt.get(`${o.kind[cur]}:${key(peer, r, m, c)}`);
    const recv = peer < 0 ? undefined : recvAt.get(`${key(s, r, m, c)}:${peer}`);
    const send = peer < 0 ? undefined : sendAt.get(`${key(peer, r, m, c)}:${s}`);
    const localReady = prev >= 0 ? end(prev) : rec.startUs;
    const arrival = send !== undefined ? end(send) : producer !== undefined ? end(producer) : -Infinity;
    const via = (i: number | undefined) => {
      if (i !== undefined && !seen.has(i)) {
        seen.add(i);
        chain.push(i);
      }
    };
    via(recv);
    if (producer !== undefined && arrival > localReady) {
      via(send);
      cur = producer;
    } else cur = prev;
  }
  chain.reverse();

  const byKind: Partial<Record<OpKind, number>> = {};
  const byStage = new Array<number>(t.stages).fill(0);
  let pathMs = 0;
  let reached = -Infinity;
  const ops: PathOp[] = chain.map((i) => {
    const kind = OP_KINDS[o.kind[i]];
    const onPathMs = Math.max(0, end(i) - Math.max(o.start[i], reached)) / 1000;
    reached = Math.max(reached, end(i));
    byKind[kind] = (byKind[kind] ?? 0) + onPathMs;
    byStage[o.stage[i]] += onPathMs;
    pathMs += onPathMs;
    return {
      row: i, kind, stage: o.stage[i], microbatch: o.microbatch[i] < 0 ? null : o.microbatch[i], peer: o.peer[i] < 0 ? null : o.peer[i],
      startMs: (o.start[i] - rec.startUs) / 1000, durMs: o.dur[i] / 1000, onPathMs,
    };
  });
  const stepMs = (rec.endUs - rec.startUs) / 1000;
  return { step, stepMs, ops, pathMs, gapMs: Math.max(0, stepMs - pathMs), byKind, byStage };
}

/** The stage with the highest busy time, and how far above the mean of all stages it sits. */
export function straggler(t: Timeline, u: Utilization = utilization(t)): Straggler {
  const busy = u.stages.map((s) => s.busyTotalMs);
  let stage = 0;
  busy.forEach((b, s) => {
    if (b > busy[stage]) stage = s;
  });
  const meanBusyMs = busy.reduce((a, b) => a + b, 0) / Math.max(1, busy.length);
  const busyMs = busy[stage] ?? 0;
  return { stage, busyMs, meanBusyMs, overMeanMs: busyMs - meanBusyMs, overMeanFraction: meanBusyMs > 0 ? busyMs / meanBusyMs - 1 : 0 };
}

/** Paths longer than this are summarised: their op count and top contributors. */
export const PATH_LABEL_OPS = 16;

/**
 * "F0·s0 → SEND·s0→1 → …": a path as one readable line; a longer one (a trace's 890 kernels) as its op count and the
 * three kinds × stages that hold most of its time: "893 ops: KERNEL·s0 ×893 38.5 ms".
 */
export function pathLabel(p: CriticalPath): string {
  if (p.ops.length <= PATH_LABEL_OPS)
    return p.ops.map((op) => `${op.kind}${op.microbatch ?? ''}${op.peer !== null ? `·s${op.stage}${op.kind === 'SEND' ? '→' : '←'}${op.peer}` : `·s${op.stage}`}`).join(' → ');
  const by = new Map<string, { n: number; ms: number }>();
  for (const op of p.ops) {
    const key = `${op.kind}·s${op.stage}`;
    const g = by.get(key) ?? { n: 0, ms: 0 };
    g.n++;
    g.ms += op.onPathMs;
    by.set(key, g);
  }
  const top = [...by.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const shown = top.slice(0, 3).map(([k, g]) => `${k} ×${g.n} ${g.ms.toFixed(1)} ms`);
  return `${p.ops.length} ops: ${shown.join(', ')}${top.length > 3 ? `, ${top.length - 3} more` : ''}`;
}
