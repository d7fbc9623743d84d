// One opened trace with core: its measured view, the traced plan predicted, ranked plans and their previews (no vscode here).
import * as path from 'node:path';
import { planText } from '../core/config/apply-plan';
import * as os from 'node:os';
import { createHash } from 'node:crypto';
import { readRun } from '../core/io/read-trace';
import { writeFileAtomic } from '../core/io/atomic';
import { timelineToTrace } from '../core/trace/export';
import { recommendForTrace } from '../core/recommend/for-trace';
import type { RankedPlan } from '../core/recommend/recommend';
import { planOfRanked } from '../core/recommend/recommend';
import type { Plan } from '../core/plan/types';
import type { CostModel } from '../core/simulate/cost-model';
import { simulate } from '../core/simulate/simulate';
import type { Timeline } from '../core/trace/timeline';
import type { RecommendationView, RunView, ToWebview } from '../media/src/protocol';
import { MAX_VIEW_OPS, SAMPLED_NOTICE, recommendationViews, runView, sampleTimeline } from './view-model';

/** Plans offered next to a trace. */
export const TOP_PLANS = 5;
/** Steps a prediction replays at most (a long capture need not be replayed step for step to be drawn). */
const MAX_PREDICTED_STEPS = 20;

export interface TraceSession {
  file: string;
  timeline: Timeline;
  measured: RunView;
  /** The traced plan replayed on the timing model calibrated on this trace; null when it cannot be calibrated. */
  predicted: RunView | null;
  plans: RankedPlan[];
  recommendations: RecommendationView[];
  costs: CostModel | null;
  /** One line for the view: a sampled trace, or why there is no prediction. */
  notice?: string;
}

/** The message of an error from core: its first line (core errors state the rule, the values and the fix). */
export function errorLine(e: unknown): string {
  const problems = (e as { problems?: unknown }).problems;
  if (Array.isArray(problems) && problems.length) return String(problems[0]);
  return String((e as Error)?.message ?? e).split('\n')[0];
}

const predictedSteps = (t: Timeline) => Math.min(MAX_PREDICTED_STEPS, Math.max(1, t.steps.filter((s) => !s.warmup).length));

/** A plan replayed on the cost model, as a Timeline. */
function simulatePlan(t: Timeline, costs: CostModel, plan: Plan): Timeline {
  return simulate({ plan, batch: t.batch!, costs, layers: t.layers, steps: predictedSteps(t), model: t.model ?? undefined });
}

/** Builds the session of a Timeline already read: every view the editor shows, computed once. */
export function sessionFromTimeline(timeline: Timeline, file: string, opts: { top?: number; maxOps?: number } = {}): TraceSession {
  const notices: string[] = [];
  const measured = runView(timeline, path.basename(file), { maxOps: opts.maxOps ?? MAX_VIEW_OPS });
  if (measured.sampled) notices.push(SAMPLED_NOTICE);
  let plans: RankedPlan[] = [];
  let costs: CostModel | null = null;
  let predicted: RunView | null = null;
  if (timeline.status === 'failed') notices.push('this run failed: the trace holds the steps before the failure');
  try {
    const r = recommendForTrace(timeline, file, { top: opts.top ?? TOP_PLANS });
    plans = r.plans;
    costs = r.costs;
    predicted = runView(simulatePlan(timeline, r.costs, r.traced), `predicted · ${planText(r.traced)}`, { maxOps: opts.maxOps });
  } catch (e) {
    notices.push(`no prediction or recommendation: ${errorLine(e)}`);
  }
  return { file, timeline, measured, predicted, plans, recommendations: recommendationViews(plans), costs, ...(notices.length ? { notice: notices.join('; ') } : {}) };
}

/**
 * Reads a trace file (plain or gzipped; a pipeprof trace or a PyTorch profiler trace, streamed) and builds its session;
 * the import's warnings join the session's notice. A bad file throws core's one-line error.
 */
export async function loadTraceSession(file: string, opts: { top?: number; maxOps?: number } = {}): Promise<TraceSession> {
  const { timeline: full, warnings } = await readRun(file);
  const sampled = sampleTimeline(full);
  const s = await sessionFromTimeline(sampled?.timeline ?? full, file, opts);
  const notices = [sampled?.notice, s.notice, ...warnings].filter(Boolean);
  return notices.length ? { ...s, notice: notices.join('; ') } : s;
}

/** A folder of PyTorch profiler rank files imported into one pipeprof trace in the temporary folder; returns its path. */
export async function importFolder(folder: string): Promise<string> {
  const { timeline } = await readRun(folder);
  const hash = createHash('sha1').update(path.resolve(folder)).digest('hex').slice(0, 8);
  const out = path.join(os.tmpdir(), `pipeprof-${path.basename(folder).replace(/[^\w.-]+/g, '_')}-${hash}.pptrace.json`);
  await writeFileAtomic(out, JSON.stringify(timelineToTrace(timeline)));
  return out;
}

/** The `load` message of a session. */
export function loadMessage(s: TraceSession): Extract<ToWebview, { type: 'load' }> {
  return { type: 'load', file: s.file, measured: s.measured, predicted: s.predicted, recommendations: s.recommendations, ...(s.notice ? { notice: s.notice } : {}) };
}

/** The ranked plan with 1-based `rank`; an out-of-range rank is an error naming the ranks there are. */
export function planAt(s: Pick<TraceSession, 'plans' | 'file'>, rank: number): RankedPlan {
  const p = Number.isInteger(rank) ? s.plans[rank - 1] : undefined;
  if (!p) throw new Error(s.plans.length ? `no plan ranked ${rank} for ${path.basename(s.file)}: ranks are 1 to ${s.plans.length}` : `no ranked plans for ${path.basename(s.file)}: the trace cannot be calibrated`);
  return p;
}

/** The predicted run of the plan ranked `rank`. */
export function previewPlan(s: TraceSession, rank: number): RunView {
  const p = planAt(s, rank);
  return runView(simulatePlan(s.timeline, s.costs!, planOfRanked(p)), `#${rank} ${p.layout} · predicted · ${planText(p)}`);
}
