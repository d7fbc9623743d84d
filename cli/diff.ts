// `pipeprof diff <a> <b>`: two traces (measured or predicted) compared per run, per stage and per op kind, as tables or JSON.
import type { Command } from 'commander';
import { UsageError } from '../core/config/errors';
import { pct, readInputs, table } from './io';
import type { Change, DiffSide, TraceDiff } from '../core/analysis/diff';
import { diffRuns } from '../core/analysis/diff';
import { AnalysisError } from '../core/analysis/utilization';
import { formatBytes } from '../core/text';
import { printable } from '../core/io/printable';
import type { CliIO } from './io';
import { planText } from '../core/config/apply-plan';
import { stageCount } from '../core/plan/types';

export interface DiffFlags {
  json?: boolean;
}

const MINUS = '\u2212';
const finite = (x: number | null): x is number => x !== null && Number.isFinite(x);
/** A signed number: '+1.5', '−0.3', '±0.0'. */
const signed = (x: number | null, digits = 1, unit = '') => {
  if (!finite(x)) return '–';
  const v = Math.abs(x).toFixed(digits);
  const zero = Number(v) === 0;
  return `${zero ? '±' : x > 0 ? '+' : MINUS}${v}${unit}`;
};
const num = (x: number | null, digits = 1) => (finite(x) ? x.toFixed(digits) : '–');
const count = (x: number | null) => (!finite(x) ? '–' : Number.isInteger(x) ? String(x) : x.toFixed(1));
const bytes = (x: number | null) => (finite(x) ? formatBytes(x) : '–');
const signedBytes = (x: number | null) => (!finite(x) ? '–' : `${x > 0 ? '+' : x < 0 ? MINUS : '±'}${formatBytes(Math.abs(x))}`);
/** (b − a) / a as a signed percentage. */
const rel = (c: Change) => (c.ratio === null ? '–' : signed((c.ratio - 1) * 100, 1, '%'));

type Kind = 'ms' | 'fraction' | 'rate' | 'bytes' | 'count';

/** The a, b, delta and % cells of one number, formatted for its kind (fractions change in percentage points). */
function cells(c: Change, kind: Kind): string[] {
  switch (kind) {
    case 'fraction':
      return [pct(c.a), pct(c.b), c.delta === null ? '–' : signed(c.delta * 100, 1, ' pp'), ''];
    case 'bytes':
      return [bytes(c.a), bytes(c.b), signedBytes(c.delta), rel(c)];
    case 'count':
      return [count(c.a), count(c.b), c.delta === null ? '–' : signed(c.delta, Number.isInteger(c.delta) ? 0 : 1), rel(c)];
    case 'rate':
      return [num(c.a), num(c.b), signed(c.delta), rel(c)];
    default:
      return [num(c.a, 2), num(c.b, 2), signed(c.delta, 2), rel(c)];
  }
}

const planLine = (s: DiffSide) =>
  s.plan
    ? `${stageCount(s.plan)} stages, ${planText(s.plan)}`
    : `unknown (a Chrome trace without the pipeprof block), ${s.stages} stages`;

const runLine = (s: DiffSide, file: string) => `${file}  (${s.source}, ${s.status})${s.model ? ` · ${printable(s.model)}` : ''}${s.backend ? ` on ${printable(s.backend)}` : ''}${s.batch ? ` · batch ${s.batch}` : ''}`;

const value = (v: number | string | number[]) => (Array.isArray(v) ? `[${v.join(',')}]` : String(v));
const PLAN_WORDS: Record<string, string> = { stages: 'stages', balance: 'balance', microbatches: 'micro-batches', schedule: 'schedule', recompute: 'recompute', replicas: 'replicas' };

const span = (l: [number, number] | null) => (l === null ? '–' : l[0] === l[1] ? `${l[0]}` : `${l[0]}–${l[1]}`);

/** The text comparison: the two runs and their plans, run totals, one block of rows per stage, one row per op kind. */
export function formatDiff(d: TraceDiff, fileA: string, fileB: string): string {
  const out: string[] = [];
  out.push(`a           ${runLine(d.a, fileA)}`);
  out.push(`b           ${runLine(d.b, fileB)}`);
  out.push(`plan a      ${planLine(d.a)}`);
  out.push(`plan b      ${planLine(d.b)}`);
  if (d.plan.known) out.push(`plan        ${d.plan.same ? 'the same plan' : d.plan.changes.map((c) => `${PLAN_WORDS[c.field]} ${value(c.a)} → ${value(c.b)}`).join('; ')}`);
  for (const n of d.notes) out.push(`note        ${n}`);
  out.push('');

  const s = d.straggler;
  const runRows: string[][] = [
    ['step time ms', ...cells(d.stepTimeMs, 'ms')],
    ['samples/s', ...cells(d.samplesPerSec, 'rate')],
    ['bubble', ...cells(d.bubbleFraction, 'fraction')],
    ['bubble, analytic', ...cells(d.analyticBubbleFraction, 'fraction')],
    ['overlap', ...cells(d.overlapFraction, 'fraction')],
    ['comm ms', ...cells(d.commMs, 'ms')],
    ['straggler', `stage ${s.a.stage}`, `stage ${s.b.stage}`, s.a.stage === s.b.stage ? 'same stage' : 'moved', ''],
    ['straggler busy ms', ...cells(s.busyMs, 'ms')],
    ['straggler over mean', ...cells(s.overMeanFraction, 'fraction')],
  ];
  out.push(table(['run', 'a', 'b', 'b − a', '%'], runRows, [false, true, true, true, true]));
  out.push('');

  // Busy kinds that either run spends time on (F and B always, as in `pipeprof report`).
  const busyKinds = d.busyKinds.filter((k) => k === 'F' || k === 'B' || d.stages.some((st) => (st.busyMs[k]?.a ?? 0) > 0 || (st.busyMs[k]?.b ?? 0) > 0));
  const stageRows: string[][] = [];
  for (const st of d.stages) {
    const rows: [string, Change, Kind][] = [
      ['util', st.utilization, 'fraction'],
      ['bubble', st.bubbleFraction, 'fraction'],
      ...busyKinds.map((k) => [`${k} ms`, st.busyMs[k], 'ms'] as [string, Change, Kind]),
      ['busy ms', st.busyTotalMs, 'ms'],
      ['comm ms', st.commMs, 'ms'],
      ['peak memory', st.peakMemoryBytes, 'bytes'],
    ];
    stageRows.push([String(st.stage), 'layers', span(st.layers.a), span(st.layers.b), '', '']);
    for (const [label, c, kind] of rows) stageRows.push(['', label, ...cells(c, kind)]);
  }
  out.push(table(['stage', '', 'a', 'b', 'b − a', '%'], stageRows, [false, false, true, true, true, true]));
  out.push('');

  const kindRows = d.kinds.map((k) => {
    const [ca, cb, cd] = cells(k.count, 'count');
    const [ta, tb, td, tr] = cells(k.totalMs, 'ms');
    const [ma, mb, , mr] = cells(k.meanMs, 'ms');
    return [k.kind, ca, cb, cd, ta, tb, td, tr, ma, mb, mr];
  });
  out.push(table(['op kind', 'count a', 'count b', 'b − a', 'ms a', 'ms b', 'b − a', '%', 'mean ms a', 'mean ms b', '%'], kindRows, [false, ...new Array<boolean>(10).fill(true)]));
  out.push('');
  out.push('per measured step (median step time; stage and op-kind times are means); b − a: b against a; bubble, util and overlap change in percentage points (pp); op kinds over every stage and replica');
  return `${out.join('\n')}\n`;
}

/** Reads both traces, compares them, prints. Input problems are UsageErrors (exit code 2). */
export async function diffCommand(fileA: string, fileB: string, flags: DiffFlags, io: CliIO): Promise<TraceDiff> {
  const a = await readInputs(io, fileA);
  const b = await readInputs(io, fileB);
  let d: TraceDiff;
  try {
    d = diffRuns(a, b);
  } catch (e) {
    if (e instanceof AnalysisError) {
      // Name the file whose timeline lacks what the analyses need.
      for (const [f, t] of [[fileA, a], [fileB, b]] as const) if (!t.steps.length) throw new UsageError([`${f}: ${e.message}`]);
      throw new UsageError([`${fileA} vs ${fileB}: ${e.message}`]);
    }
    throw e;
  }
  io.out(flags.json ? `${JSON.stringify(d)}\n` : formatDiff(d, fileA, fileB));
  return d;
}

export function registerDiff(program: Command, io: CliIO): void {
  program
    .command('diff')
    .argument('<a>', 'the first trace (.pptrace.json from pipeprof capture or simulate --out, gzipped or not)')
    .argument('<b>', 'the second trace, compared against the first (b − a)')
    .description('compare two runs (measured or predicted): step time, samples/s, bubble, overlap, straggler, each stage and each op kind')
    .option('--json', 'print one JSON object on stdout (default: off): {version: 1, a, b, stepTimeMs, samplesPerSec, bubbleFraction, analyticBubbleFraction, overlapFraction, commMs, straggler, plan: {known, same, changes}, stagesComparable, stages: [{stage, layers, utilization, bubbleFraction, busyMs: {F, B, ...}, busyTotalMs, commMs, peakMemoryBytes}], busyKinds, kinds: [{kind, count, totalMs, meanMs}], notes}; every number is {a, b, delta: b − a, ratio: b / a}, null where a run lacks it')
    .action(async (a: string, b: string, flags: DiffFlags) => {
      await diffCommand(a, b, flags, io);
    });
}
