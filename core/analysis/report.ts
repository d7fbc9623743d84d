// The report: every analysis of one timeline gathered into the object `pipeprof report --json` prints, plus one step's ops to draw.
import type { OpKind } from '../schedule/types';
import type { Plan } from '../plan/types';
import type { Timeline } from '../trace/timeline';
import { OP_KINDS } from '../trace/timeline';
import type { BusyMs } from './utilization';
import { utilization } from './utilization';
import { overlap } from './overlap';
import type { CriticalPath, PathOp, Straggler } from './critical-path';
import { criticalPath, pathLabel, straggler } from './critical-path';
import type { LayerCostRow } from './costs';
import { costs } from './costs';
import { peakMemory } from './memory';
import type { StepSpread } from './step-spread';
import { stepSpread } from './step-spread';
import type { RankBreakdown, RankStraggler } from './ranks';
import { rankBreakdown, rankStraggler } from './ranks';
import type { StageBubbles } from './bubbles';
import { bubbles } from './bubbles';

export interface StageReport {
  stage: number;
  utilization: number;
  /** (idle + waiting) / step: the share of the step the stage could have computed. */
  bubbleFraction: number;
  /** idle + waiting, ms per step. */
  bubbleMs: number;
  /** The step split (bubbles.ts): no work at all, waiting in SEND/RECV for a peer, bytes on the wire, exposed collectives; ms per step. */
  idleMs: number;
  waitingMs: number;
  transferMs: number;
  collectiveMs: number;
  /** The same split per measured step. */
  perStep: StageBubbles['perStep'];
  busyMs: BusyMs;
  busyTotalMs: number;
  commMs: number;
  sendMs: number;
  recvMs: number;
  allreduceMs: number;
  overlapFraction: number | null;
  peakMemoryBytes: number | null;
  achievedFlops: number | null;
  peakFlopsShare: number | null;
}

export interface Report {
  source: Timeline['source'];
  status: Timeline['status'];
  plan: Plan | null;
  model: string | null;
  backend: string | null;
  batch: number | null;
  /** Median duration of the measured (non-warm-up) steps. */
  stepTimeMs: number;
  meanStepMs: number;
  measuredSteps: number;
  /** Range of the measured steps and the slow ones (≥ SLOW_STEP × the median). */
  stepTimeSpread: StepSpread;
  samplesPerSec: number | null;
  /** Mean of the stages' bubble fractions (idle + waiting), and the plan's schedule's analytic bubble. */
  bubbleFraction: number;
  /** Means over stages, ms per step: idle, waiting in SEND/RECV, transfer. */
  idleMs: number;
  waitingMs: number;
  transferMs: number;
  analyticBubbleFraction: number | null;
  /** Share of all communication time hidden under compute on the same stage; null without communication. */
  overlapFraction: number | null;
  commMs: number;
  /** Gradient sync per step (all-reduce lane, summed over stages) and the share of it hidden under compute; 0 / null without replicas. */
  allreduceMs: number;
  allreduceOverlapFraction: number | null;
  straggler: Straggler;
  stages: StageReport[];
  criticalPath: { step: number; stepMs: number; pathMs: number; gapMs: number; byKind: CriticalPath['byKind']; byStage: number[]; label: string; ops: PathOp[] };
  layers: LayerCostRow[];
  losses: { step: number; loss: number; warmup: boolean }[];
  /** Present only for a PyTorch profiler (Kineto) trace: where it came from, HTA's per-rank breakdown, the DP straggler (null for a pipeline). */
  origin?: 'kineto';
  /** Kineto pipelines: the rules that identified the ops ('PP:', 'Forward {i}', 'DeepSpeed _exec_*', 'Megatron forward_step', 'p2p pattern'). */
  opsRules?: string[];
  ranks?: RankBreakdown[];
  rankStraggler?: RankStraggler | null;
}

/** Every analysis of a timeline. Throws AnalysisError when the timeline lacks what they need (e.g. no step). */
export function buildReport(t: Timeline): Report {
  const u = utilization(t);
  const ov = overlap(t);
  const mem = peakMemory(t);
  const c = costs(t);
  const cp = criticalPath(t);
  const ranks = t.origin === 'kineto' ? rankBreakdown(t) : null;
  const bb = bubbles(t);
  return {
    source: t.source,
    status: t.status,
    plan: t.plan,
    // An imported trace's exported model is named 'unknown': no model.
    model: t.model?.name && t.model.name !== 'unknown' ? t.model.name : null,
    backend: t.backend,
    batch: t.batch,
    stepTimeMs: u.stepTimeMs,
    meanStepMs: u.meanStepMs,
    measuredSteps: u.steps.length,
    stepTimeSpread: stepSpread(t),
    samplesPerSec: t.batch && u.stepTimeMs > 0 ? t.batch / (u.stepTimeMs / 1000) : null,
    bubbleFraction: bb.bubbleFraction,
    idleMs: bb.idleMs,
    waitingMs: bb.waitingMs,
    transferMs: bb.transferMs,
    analyticBubbleFraction: u.analyticBubbleFraction,
    overlapFraction: ov.overlapFraction,
    commMs: ov.commMs,
    allreduceMs: ov.allreduceMs,
    allreduceOverlapFraction: ov.allreduceOverlapFraction,
    straggler: straggler(t, u),
    stages: u.stages.map((s) => ({
      stage: s.stage,
      utilization: s.utilization,
      bubbleFraction: bb.stages[s.stage].bubbleFraction,
      bubbleMs: bb.stages[s.stage].bubbleMs,
      idleMs: bb.stages[s.stage].idleMs,
      waitingMs: bb.stages[s.stage].waitingMs,
      transferMs: bb.stages[s.stage].transferMs,
      collectiveMs: bb.stages[s.stage].collectiveMs,
      perStep: bb.stages[s.stage].perStep,
      busyMs: s.busyMs,
      busyTotalMs: s.busyTotalMs,
      commMs: ov.stages[s.stage].commMs,
      sendMs: ov.stages[s.stage].sendMs,
      recvMs: ov.stages[s.stage].recvMs,
      allreduceMs: ov.stages[s.stage].allreduceMs,
      overlapFraction: ov.stages[s.stage].overlapFraction,
      peakMemoryBytes: mem[s.stage].peakBytes,
      achievedFlops: c.stages[s.stage].achievedFlops,
      peakFlopsShare: c.stages[s.stage].peakShare,
    })),
    criticalPath: { step: cp.step, stepMs: cp.stepMs, pathMs: cp.pathMs, gapMs: cp.gapMs, byKind: cp.byKind, byStage: cp.byStage, label: pathLabel(cp), ops: cp.ops },
    layers: c.layers,
    losses: t.steps.map((s) => ({ step: s.step, loss: s.loss, warmup: s.warmup })),
    // The DP straggler needs ranks that wait for each other in collectives: not a pipeline's stages.
    ...(ranks
      ? { origin: 'kineto' as const, opsRules: [...new Set((t.ranks ?? []).flatMap((x) => (x.opsRule ? [x.opsRule] : [])))], ranks, rankStraggler: t.plan ? null : rankStraggler(ranks) }
      : {}),
  };
}

/** One op of a step, as drawn: stage row, lane, kind, ms from the step start. */
export interface DrawnOp {
  stage: number;
  lane: number;
  kind: OpKind;
  microbatch: number | null;
  startMs: number;
  durMs: number;
}

/** The ops of one step, times relative to its start, for a timeline chart (one row per stage). */
export function stepOps(t: Timeline, step: number): { step: number; stepMs: number; ops: DrawnOp[] } {
  const rec = t.steps.find((s) => s.step === step);
  const o = t.ops;
  const ops: DrawnOp[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < o.length; i++) {
    if (o.step[i] !== step) continue;
    ops.push({ stage: o.stage[i], lane: o.lane[i], kind: OP_KINDS[o.kind[i]], microbatch: o.microbatch[i] < 0 ? null : o.microbatch[i], startMs: o.start[i] / 1000, durMs: o.dur[i] / 1000 });
    lo = Math.min(lo, o.start[i]);
    hi = Math.max(hi, o.start[i] + o.dur[i]);
  }
  const t0 = rec ? rec.startUs : lo;
  for (const op of ops) op.startMs -= t0 / 1000;
  return { step, stepMs: rec ? (rec.endUs - rec.startUs) / 1000 : Math.max(0, hi - lo) / 1000, ops };
}
