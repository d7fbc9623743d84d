// The comparison of two runs (core/analysis/diff.ts) as plain tables of text cells for the compare view; pure, so tests need no DOM.
import type { Change, TraceDiff } from '../../core/analysis/diff';
import { fmtBytes, fmtMs, fmtNum, fmtPct, label } from './text';

/** Whether b's change is a gain or a loss (the delta cells are coloured so), or neither (no change, no direction, unknown). */
export type Tone = 'better' | 'worse' | '';

export interface DiffRow {
  /** What the row is about (run metric, stage number, op kind): the row's data-key. */
  key: string;
  cells: string[];
  /** How b's change reads for this row's metric; colours the table's delta columns. */
  tone?: Tone;
}

export interface DiffTable {
  key: 'run' | 'stages' | 'kinds';
  caption: string;
  headers: string[];
  /** Right-aligned (numeric) columns. */
  numeric: boolean[];
  /** The columns that show a change (b − a, %): coloured by the row's tone. */
  delta: boolean[];
  rows: DiffRow[];
}

export interface DiffModel {
  /** One line per run: 'a: title (measured) · model'. */
  runs: string[];
  /** The plan change in one line ('' when unknown). */
  plan: string;
  notes: string[];
  tables: DiffTable[];
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
/** A Change as sent; anything else (a host bug, an old message) reads as all-unknown. */
const ch = (v: unknown): Change => (isObj(v) ? { a: finite(v.a) ? v.a : null, b: finite(v.b) ? v.b : null, delta: finite(v.delta) ? v.delta : null, ratio: finite(v.ratio) ? v.ratio : null } : { a: null, b: null, delta: null, ratio: null });

/** A signed change as shown: '+1.5 ms', '−0.3%', and '±0.0' for whatever rounds to zero (no '−0.0'). */
export function signed(x: number, unit: string, digits = 1): string {
  if (!Number.isFinite(x)) return '–';
  const v = Math.abs(x).toFixed(digits);
  return `${Number(v) === 0 ? '±' : x > 0 ? '+' : '−'}${v}${unit}`;
}

/** (b − a) / a as a signed percentage, or '–'. */
const rel = (c: Change) => (finite(c.ratio) ? signed(100 * (c.ratio - 1), '%') : '–');

type Unit = 'ms' | 'fraction' | 'rate' | 'bytes' | 'count';

/**
 * The tone of a change for a metric where `higher` is better (true), lower is (false), or neither (null): changes
 * under half a per cent of a (or 0.05 percentage points of a fraction) are no change.
 */
export function tone(v: unknown, higher: boolean | null, unit: Unit = 'ms'): Tone {
  const c = ch(v);
  if (higher === null || !finite(c.delta) || c.delta === 0) return '';
  const small = unit === 'fraction' ? Math.abs(c.delta) < 0.0005 : finite(c.a) && c.a !== 0 && Math.abs(c.delta / c.a) < 0.005;
  if (small) return '';
  return c.delta > 0 === higher ? 'better' : 'worse';
}

/** a, b, b − a and % of one number, formatted for its unit; fractions change in percentage points and have no %. */
export function changeCells(v: unknown, unit: Unit): string[] {
  const c = ch(v);
  switch (unit) {
    case 'fraction':
      return [fmtPct(c.a), fmtPct(c.b), finite(c.delta) ? signed(100 * c.delta, ' pp') : '–', ''];
    case 'bytes':
      return [fmtBytes(c.a), fmtBytes(c.b), finite(c.delta) ? `${c.delta > 0 ? '+' : c.delta < 0 ? '−' : '±'}${fmtBytes(Math.abs(c.delta))}` : '–', rel(c)];
    case 'count':
      return [fmtNum(c.a, Number.isInteger(c.a) ? 0 : 1), fmtNum(c.b, Number.isInteger(c.b) ? 0 : 1), finite(c.delta) ? signed(c.delta, '', Number.isInteger(c.delta) ? 0 : 1) : '–', rel(c)];
    case 'rate':
      return [fmtNum(c.a), fmtNum(c.b), finite(c.delta) ? signed(c.delta, '') : '–', rel(c)];
    default:
      return [fmtMs(c.a), fmtMs(c.b), finite(c.delta) ? signed(c.delta, ' ms', 2) : '–', rel(c)];
  }
}

const span = (l: unknown) => (Array.isArray(l) && l.length === 2 ? (l[0] === l[1] ? label(l[0]) : `${label(l[0])}–${label(l[1])}`) : '–');
const value = (v: unknown) => (Array.isArray(v) ? `[${v.map((x) => label(x)).join(',')}]` : label(v));
const PLAN_WORDS: Record<string, string> = { stages: 'stages', balance: 'balance', microbatches: 'micro-batches', schedule: 'schedule', recompute: 'recompute', replicas: 'replicas' };

function runLine(which: 'a' | 'b', title: string, side: unknown): string {
  const s: Record<string, unknown> = isObj(side) ? side : {};
  const model = s.model ? ` · ${label(s.model)}` : '';
  return `${which}: ${label(title, 400)} (${label(s.source)}, ${label(s.status)})${model}`;
}

/** Everything the compare view shows of a diff, as text; `titles` name run a and run b. */
export function diffModel(d: TraceDiff, titles: [string, string]): DiffModel {
  const plan = isObj(d.plan) ? d.plan : { known: false, same: false, changes: [] };
  const planLine = !plan.known
    ? ''
    : plan.same
      ? 'the same plan'
      : arr<{ field: string; a: unknown; b: unknown }>(plan.changes).map((c) => `${PLAN_WORDS[String(c.field)] ?? label(c.field)} ${value(c.a)} → ${value(c.b)}`).join('; ');

  const s: Record<string, unknown> = isObj(d.straggler) ? d.straggler : {};
  const sa: Record<string, unknown> = isObj(s.a) ? s.a : {};
  const sb: Record<string, unknown> = isObj(s.b) ? s.b : {};
  const run: DiffTable = {
    key: 'run',
    caption: 'Run (per measured step)',
    headers: ['', 'a', 'b', 'b − a', '%'],
    numeric: [false, true, true, true, true],
    delta: [false, false, false, true, true],
    rows: [
      { key: 'step', cells: ['step time', ...changeCells(d.stepTimeMs, 'ms')], tone: tone(d.stepTimeMs, false) },
      { key: 'throughput', cells: ['samples/s', ...changeCells(d.samplesPerSec, 'rate')], tone: tone(d.samplesPerSec, true, 'rate') },
      { key: 'bubble', cells: ['bubble', ...changeCells(d.bubbleFraction, 'fraction')], tone: tone(d.bubbleFraction, false, 'fraction') },
      { key: 'overlap', cells: ['overlap', ...changeCells(d.overlapFraction, 'fraction')], tone: tone(d.overlapFraction, true, 'fraction') },
      { key: 'comm', cells: ['communication', ...changeCells(d.commMs, 'ms')], tone: tone(d.commMs, false) },
      { key: 'straggler', cells: ['straggler', `stage ${label(sa.stage)}`, `stage ${label(sb.stage)}`, sa.stage === sb.stage ? 'same stage' : 'moved', ''] },
      { key: 'straggler-busy', cells: ['straggler busy', ...changeCells(s.busyMs, 'ms')], tone: tone(s.busyMs, false) },
    ],
  };

  const stageList = arr<Record<string, unknown>>(d.stages).filter(isObj);
  const busyKinds = arr<unknown>(d.busyKinds).map((k) => label(k, 40));
  // Busy kinds either run spends time on (F and B always), as the CLI shows them.
  const shown = busyKinds.filter((k) => k === 'F' || k === 'B' || stageList.some((st) => {
    const c = ch(isObj(st.busyMs) ? st.busyMs[k] : null);
    return (c.a ?? 0) > 0 || (c.b ?? 0) > 0;
  }));
  const stageRows: DiffRow[] = [];
  for (const st of stageList) {
    const key = `stage-${label(st.stage)}`;
    const layers = isObj(st.layers) ? st.layers : {};
    const busy = isObj(st.busyMs) ? st.busyMs : {};
    stageRows.push({ key, cells: [`stage ${label(st.stage)}`, 'layers', span(layers.a), span(layers.b), '', ''] });
    // [name, change, unit, higher is better]: less time for the same work is better; utilization is the other way.
    const metrics: [string, unknown, Unit, boolean | null][] = [
      ['utilization', st.utilization, 'fraction', true],
      ['bubble', st.bubbleFraction, 'fraction', false],
      ...shown.map((k) => [`${k} ms`, busy[k], 'ms', false] as [string, unknown, Unit, boolean]),
      ['busy', st.busyTotalMs, 'ms', false],
      ['communication', st.commMs, 'ms', false],
      ['peak memory', st.peakMemoryBytes, 'bytes', false],
    ];
    for (const [name, c, unit, higher] of metrics) stageRows.push({ key, cells: ['', name, ...changeCells(c, unit)], tone: d.stagesComparable === false ? '' : tone(c, higher, unit) });
  }
  const stages: DiffTable = {
    key: 'stages',
    caption: d.stagesComparable === false ? 'Stages (different stage counts: side by side, no deltas)' : 'Stages (per measured step)',
    headers: ['stage', '', 'a', 'b', 'b − a', '%'],
    numeric: [false, false, true, true, true, true],
    delta: [false, false, false, false, true, true],
    rows: stageRows,
  };

  const kinds: DiffTable = {
    key: 'kinds',
    caption: 'Op kinds (all stages, per measured step)',
    headers: ['op kind', 'count a', 'count b', 'b − a', 'time a', 'time b', 'b − a', '%', 'mean a', 'mean b', '%'],
    numeric: [false, true, true, true, true, true, true, true, true, true, true],
    // Time per step is what the tone reads (counts change with the plan, neither better nor worse).
    delta: [false, false, false, false, false, false, true, true, false, false, false],
    rows: arr<Record<string, unknown>>(d.kinds).filter(isObj).map((k) => {
      const [ca, cb, cd] = changeCells(k.count, 'count');
      const [ta, tb, td, tr] = changeCells(k.totalMs, 'ms');
      const [ma, mb, , mr] = changeCells(k.meanMs, 'ms');
      return { key: label(k.kind, 40), cells: [label(k.kind, 40), ca, cb, cd, ta, tb, td, tr, ma, mb, mr], tone: tone(k.totalMs, false) };
    }),
  };

  return {
    runs: [runLine('a', titles[0], d.a), runLine('b', titles[1], d.b)],
    plan: planLine,
    notes: arr<unknown>(d.notes).map((n) => label(n, 1000)),
    tables: [run, stages, kinds],
  };
}
