// True bubbles: each stage's step split into compute, waiting (in a SEND or RECV for a peer not ready), transfer (bytes on the wire), collectives and idle.
import type { Timeline } from '../trace/timeline';
import { OP } from '../trace/timeline';
import { BUSY_INDEX, measuredSteps, replicasPerStage, stepSlots } from './utilization';
import { Union } from './intervals';

/*
 * A SEND or RECV (a pipeprof op, or an NCCL SendRecv kernel of a PyTorch trace) lasts from when it was posted until the
 * peer's side has run: its duration is waiting plus transfer. The transfer of `bytes` is estimated from the fastest
 * transfers: the shortest SEND or RECV of that size (it waited least), and no longer than the bytes over the best
 * bandwidth any size reached (so a lone op of an odd size that waited is not taken as all wire time). The transfer is
 * the op's tail (the bytes move once both sides are there), the rest of it waiting. Per stage and step, on the stage's
 * own time: compute = the union of its compute ops; waiting = waiting not under compute; transfer = transfer under
 * neither; collectives = all-reduce and other collectives under none of those; idle = the rest of the step. The bubble
 * is idle plus waiting: the time the stage could have computed. Replicas are averaged.
 */

export interface TransferModel {
  /** Fastest duration per size in bytes, µs. */
  fastestUs: Map<number, number>;
  /** Best bytes per µs over the sizes (Infinity when some transfer took no time); null without SEND or RECV of any bytes. */
  bytesPerUs: number | null;
}

const isP2P = (k: number) => k === OP.SEND || k === OP.RECV;

/** The transfer model of a timeline's SEND and RECV ops. */
export function transferModel(t: Timeline): TransferModel {
  const { kind, dur, bytes, length } = t.ops;
  const fastestUs = new Map<number, number>();
  for (let i = 0; i < length; i++) if (isP2P(kind[i]) && dur[i] >= 0) fastestUs.set(bytes[i], Math.min(fastestUs.get(bytes[i]) ?? Infinity, dur[i]));
  let bytesPerUs: number | null = null;
  for (const [b, us] of fastestUs) if (b > 0) bytesPerUs = Math.max(bytesPerUs ?? 0, us > 0 ? b / us : Infinity);
  return { fastestUs, bytesPerUs };
}

/** The transfer part of a SEND or RECV of `bytes` that lasted `durUs` (the rest is waiting). */
export function transferUs(m: TransferModel, bytes: number, durUs: number): number {
  const f = m.fastestUs.get(bytes) ?? durUs;
  return Math.min(durUs, f, m.bytesPerUs !== null && bytes > 0 ? bytes / m.bytesPerUs : Infinity);
}

export interface BubbleSplit {
  computeMs: number;
  waitingMs: number;
  transferMs: number;
  collectiveMs: number;
  idleMs: number;
}

export interface StageBubbles extends BubbleSplit {
  stage: number;
  stepMs: number;
  /** idle + waiting. */
  bubbleMs: number;
  bubbleFraction: number;
  /** The same split per measured step (ms). */
  perStep: ({ step: number; stepMs: number } & BubbleSplit)[];
}

export interface Bubbles {
  stages: StageBubbles[];
  /** Means over stages, ms per step. */
  waitingMs: number;
  transferMs: number;
  idleMs: number;
  bubbleFraction: number;
  model: TransferModel;
}

/** Union of unsorted intervals. */
function unionOf(iv: [number, number][]): Union {
  const u = new Union();
  for (const [a, b] of iv.sort((x, y) => x[0] - y[0])) if (b > a) u.add(a, b);
  return u;
}

/** The step split of every stage (see the rules above). */
export function bubbles(t: Timeline): Bubbles {
  const steps = measuredSteps(t);
  const slot = stepSlots(steps);
  const S = t.stages;
  const replicas = replicasPerStage(t);
  const R = Math.max(...replicas);
  const model = transferModel(t);
  const { kind, stage, replica, step, start, dur, bytes, length } = t.ops;
  /** Per (step slot, stage, replica): compute, waiting, transfer and collective intervals. */
  type Bins = { c: [number, number][]; w: [number, number][]; x: [number, number][]; a: [number, number][] };
  const bins = new Map<number, Bins>();
  for (let i = 0; i < length; i++) {
    const st = step[i];
    if (st < 0 || st >= slot.length || slot[st] < 0 || !(dur[i] > 0)) continue;
    const key = (slot[st] * S + stage[i]) * R + replica[i];
    let b = bins.get(key);
    if (!b) bins.set(key, (b = { c: [], w: [], x: [], a: [] }));
    const a = start[i];
    const e = a + dur[i];
    const k = kind[i];
    if (BUSY_INDEX[k] >= 0) b.c.push([a, e]);
    else if (isP2P(k)) {
      const tx = transferUs(model, bytes[i], dur[i]);
      if (e - tx > a) b.w.push([a, e - tx]);
      b.x.push([e - tx, e]);
    } else if (k === OP.ALLREDUCE || k === OP.COMM) b.a.push([a, e]);
  }
  const stages: StageBubbles[] = [];
  for (let s = 0; s < S; s++) {
    const perStep = steps.map((rec, k) => {
      const stepUs = rec.endUs - rec.startUs;
      const sum = { computeMs: 0, waitingMs: 0, transferMs: 0, collectiveMs: 0, idleMs: 0 };
      for (let r = 0; r < replicas[s]; r++) {
        const b = bins.get((k * S + s) * R + r) ?? { c: [], w: [], x: [], a: [] };
        const c = unionOf(b.c.slice()).length();
        const cw = unionOf([...b.c, ...b.w]).length();
        const cwx = unionOf([...b.c, ...b.w, ...b.x]).length();
        const all = unionOf([...b.c, ...b.w, ...b.x, ...b.a]).length();
        sum.computeMs += c / 1000;
        sum.waitingMs += (cw - c) / 1000;
        sum.transferMs += (cwx - cw) / 1000;
        sum.collectiveMs += (all - cwx) / 1000;
        sum.idleMs += Math.max(0, stepUs - all) / 1000;
      }
      const n = replicas[s];
      return {
        step: rec.step, stepMs: stepUs / 1000, computeMs: sum.computeMs / n, waitingMs: sum.waitingMs / n, transferMs: sum.transferMs / n,
        collectiveMs: sum.collectiveMs / n, idleMs: sum.idleMs / n,
      };
    });
    const avg = (f: (x: (typeof perStep)[number]) => number) => perStep.reduce((a, x) => a + f(x), 0) / Math.max(1, perStep.length);
    const stepMs = avg((x) => x.stepMs);
    const split = { computeMs: avg((x) => x.computeMs), waitingMs: avg((x) => x.waitingMs), transferMs: avg((x) => x.transferMs), collectiveMs: avg((x) => x.collectiveMs), idleMs: avg((x) => x.idleMs) };
    const bubbleMs = split.idleMs + split.waitingMs;
    stages.push({ stage: s, stepMs, ...split, bubbleMs, bubbleFraction: avg((x) => (x.stepMs > 0 ? Math.min(1, (x.idleMs + x.waitingMs) / x.stepMs) : 0)), perStep });
  }
  const mean = (f: (x: StageBubbles) => number) => stages.reduce((a, x) => a + f(x), 0) / Math.max(1, stages.length);
  return { stages, waitingMs: mean((x) => x.waitingMs), transferMs: mean((x) => x.transferMs), idleMs: mean((x) => x.idleMs), bubbleFraction: mean((x) => x.bubbleFraction), model };
}
