// The summary line of a run (step time, samples/s, bubble, overlap, straggler) and the predicted-vs-measured deltas, as text parts.
import type { Report } from '../../core/analysis/report';
import { fmtMs, fmtNum, fmtPct, fmtSigned, label } from './text';

export interface SummaryPart {
  key: 'step' | 'throughput' | 'bubble' | 'overlap' | 'straggler' | 'plan';
  label: string;
  value: string;
  /** Longer explanation for a tooltip. */
  title: string;
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** The plan in one phrase: '2 stages [4,4], 4 micro-batches, 1f1b'. */
export function planText(report: Report): string {
  const p = report.plan;
  if (!p) return '';
  // Stages, not virtual stages: an interleaved plan's balance lists stages × chunks.
  const chunks = p.chunks && p.chunks > 1 ? p.chunks : 1;
  const stages = (p.balance?.length ?? 0) / chunks;
  const replicas = p.replicas > 1 ? ` ×${label(p.replicas)} replicas` : '';
  return `${stages} stage${stages === 1 ? '' : 's'}${chunks > 1 ? ` × ${label(chunks)} chunks` : ''} [${(p.balance ?? []).map((b) => label(b)).join(',')}]${replicas}, ${label(p.microbatches)} micro-batches, ${label(p.schedule)}, recompute ${label(p.recompute)}`;
}

/** The measured steps' range and the slow ones, for the step time's tooltip (older reports have no spread). */
function spreadTitle(report: Report): string {
  const sp = (report as Partial<Report>).stepTimeSpread;
  if (!sp || !finite(sp.minMs) || !finite(sp.maxMs) || !(report.measuredSteps > 1)) return '';
  const slow = Array.isArray(sp.slowSteps) && sp.slowSteps.length ? `; slow: step ${sp.slowSteps.map((s) => label(s)).join(', ')}` : '';
  return `; range ${fmtMs(sp.minMs)}–${fmtMs(sp.maxMs)}${slow}`;
}

/** The parts of the summary line, in order; values already formatted (the view puts them in textContent). */
export function summaryParts(report: Report): SummaryPart[] {
  const parts: SummaryPart[] = [];
  const plan = planText(report);
  if (plan) parts.push({ key: 'plan', label: 'plan', value: plan, title: 'the plan the run used' });
  parts.push({ key: 'step', label: 'step time', value: fmtMs(report.stepTimeMs), title: `median of ${label(report.measuredSteps)} measured step(s); mean ${fmtMs(report.meanStepMs)}${spreadTitle(report)}` });
  parts.push({
    key: 'throughput',
    label: 'samples/s',
    value: finite(report.samplesPerSec) ? fmtNum(report.samplesPerSec, 1) : '–',
    title: finite(report.batch) ? `${label(report.batch)} samples per minibatch` : 'batch size unknown',
  });
  const analytic = finite(report.analyticBubbleFraction) ? ` (analytic ${fmtPct(report.analyticBubbleFraction)})` : '';
  parts.push({ key: 'bubble', label: 'bubble', value: `${fmtPct(report.bubbleFraction)}${analytic}`, title: 'mean share of the step each stage could have computed: idle, plus waiting in SEND/RECV for a peer (the transfer itself is communication); analytic: the schedule formula' });
  parts.push({
    key: 'overlap',
    label: 'overlap',
    value: finite(report.overlapFraction) ? fmtPct(report.overlapFraction) : 'no communication',
    title: `share of communication time (${fmtMs(report.commMs)}) hidden under compute on the same stage`,
  });
  const s = report.straggler;
  if (s && finite(s.stage)) {
    parts.push({
      key: 'straggler',
      label: 'straggler',
      value: `stage ${label(s.stage)} (${fmtSigned(100 * (s.overMeanFraction ?? 0), '%')} busy vs mean)`,
      title: `stage ${label(s.stage)} is busy ${fmtMs(s.busyMs)} per step against a mean of ${fmtMs(s.meanBusyMs)}`,
    });
  }
  return parts;
}

export interface Delta {
  key: 'step' | 'bubble';
  label: string;
  measured: number;
  predicted: number;
  /** predicted − measured (ms for the step, a fraction for the bubble). */
  delta: number;
  /** delta / measured, for the step time; null for the bubble (its delta is in percentage points). */
  relative: number | null;
  text: string;
}

/** Predicted against measured: step time (ms and %) and bubble (percentage points). */
export function compareDeltas(measured: Report, predicted: Report): Delta[] {
  const out: Delta[] = [];
  const m = measured.stepTimeMs;
  const p = predicted.stepTimeMs;
  if (finite(m) && finite(p)) {
    const d = p - m;
    const rel = m > 0 ? d / m : null;
    out.push({
      key: 'step', label: 'step time', measured: m, predicted: p, delta: d, relative: rel,
      text: `${fmtMs(p)} predicted vs ${fmtMs(m)} measured (${fmtSigned(d, ' ms')}${rel === null ? '' : `, ${fmtSigned(100 * rel, '%')}`})`,
    });
  }
  const mb = measured.bubbleFraction;
  const pb = predicted.bubbleFraction;
  if (finite(mb) && finite(pb)) {
    const d = pb - mb;
    out.push({ key: 'bubble', label: 'bubble', measured: mb, predicted: pb, delta: d, relative: null, text: `${fmtPct(pb)} predicted vs ${fmtPct(mb)} measured (${fmtSigned(100 * d, ' pp')})` });
  }
  return out;
}
