// Communication overlap: per stage, time on the send, receive and all-reduce lanes, and the share of it hidden under compute.
import type { Timeline } from '../trace/timeline';
import { OP } from '../trace/timeline';
import { measuredSteps, replicasPerStage, stepSlots } from './utilization';
import { Union } from './intervals';
import { transferModel, transferUs } from './bubbles';

export interface StageOverlap {
  stage: number;
  /**
   * Mean per measured step (averaged over replicas), ms. SEND and RECV count their transfer only (bubbles.ts): the
   * time they wait for the peer is bubble, not communication.
   */
  sendMs: number;
  recvMs: number;
  allreduceMs: number;
  commMs: number;
  /** Communication time during which the same stage (and replica) was computing. */
  overlappedMs: number;
  exposedMs: number;
  /** overlappedMs / commMs; null when the stage does not communicate. */
  overlapFraction: number | null;
  /** The all-reduce lane alone: its time under the same replica's compute, and that share (null without all-reduce). */
  allreduceOverlappedMs: number;
  allreduceOverlapFraction: number | null;
}

export interface Overlap {
  stages: StageOverlap[];
  commMs: number;
  overlappedMs: number;
  overlapFraction: number | null;
  /** Gradient all-reduce (or parameter-server traffic) per step summed over stages, and the share of it hidden under compute. */
  allreduceMs: number;
  allreduceOverlapFraction: number | null;
}

export function overlap(t: Timeline): Overlap {
  const steps = measuredSteps(t);
  const slot = stepSlots(steps);
  const S = t.stages;
  const replicas = replicasPerStage(t);
  const R = Math.max(...replicas);
  const { lane, stage, replica, step, start, dur, length } = t.ops;
  // Compute unions over every step (a later step's compute may hide this step's communication).
  const unions = Array.from({ length: S * R }, () => new Union());
  for (let i = 0; i < length; i++) if (lane[i] === 0 && dur[i] > 0) unions[stage[i] * R + replica[i]].add(start[i], start[i] + dur[i]);
  const byLane = new Float64Array(S * 4);
  const hidden = new Float64Array(S);
  const hiddenAr = new Float64Array(S);
  const model = transferModel(t);
  const { kind, bytes } = t.ops;
  for (let i = 0; i < length; i++) {
    const l = lane[i];
    if (l === 0 || l > 3) continue; // lane 4 is memory copies and sets (Kineto), not communication
    const st = step[i];
    if (st < 0 || st >= slot.length || slot[st] < 0) continue;
    const s = stage[i];
    // A SEND or RECV: its transfer, the op's tail; the wait before it is bubble.
    const d = kind[i] === OP.SEND || kind[i] === OP.RECV ? transferUs(model, bytes[i], dur[i]) : dur[i];
    const a = start[i] + dur[i] - d;
    byLane[s * 4 + l] += d;
    if (d > 0) {
      const h = unions[s * R + replica[i]].covered(a, a + d);
      hidden[s] += h;
      if (l === 3) hiddenAr[s] += h;
    }
  }
  const per = (us: number, s: number) => us / 1000 / steps.length / replicas[s];
  const stages: StageOverlap[] = [];
  for (let s = 0; s < S; s++) {
    const sendMs = per(byLane[s * 4 + 1], s);
    const recvMs = per(byLane[s * 4 + 2], s);
    const allreduceMs = per(byLane[s * 4 + 3], s);
    const commMs = sendMs + recvMs + allreduceMs;
    const overlappedMs = Math.min(commMs, per(hidden[s], s));
    const allreduceOverlappedMs = Math.min(allreduceMs, per(hiddenAr[s], s));
    stages.push({
      stage: s, sendMs, recvMs, allreduceMs, commMs, overlappedMs, exposedMs: commMs - overlappedMs, overlapFraction: commMs > 0 ? overlappedMs / commMs : null,
      allreduceOverlappedMs, allreduceOverlapFraction: allreduceMs > 0 ? allreduceOverlappedMs / allreduceMs : null,
    });
  }
  const allreduceMs = stages.reduce((a, s) => a + s.allreduceMs, 0);
  const allreduceHidden = stages.reduce((a, s) => a + s.allreduceOverlappedMs, 0);
  const commMs = stages.reduce((a, s) => a + s.commMs, 0);
  const overlappedMs = stages.reduce((a, s) => a + s.overlappedMs, 0);
  return {
    stages, commMs, overlappedMs, overlapFraction: commMs > 0 ? overlappedMs / commMs : null,
    allreduceMs, allreduceOverlapFraction: allreduceMs > 0 ? allreduceHidden / allreduceMs : null,
  };
}
