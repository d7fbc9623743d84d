// diffModel: the compare view's diff tables as text, from a real diff of two simulated runs; hostile strings and garbage stay text.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { TraceDiff } from '../../core/analysis/diff';
import { diffRuns } from '../../core/analysis/diff';
import { changeCells, diffModel } from '../../media/src/diff-table';
import { syntheticTimeline } from './harness';

const IMG = '<img src=x onerror=alert(1)>';

function pair(stagesB = 2): TraceDiff {
  const a = syntheticTimeline({ events: 400, stages: 2, microbatches: 4 });
  const b = syntheticTimeline({ events: 400, stages: stagesB, microbatches: 4, schedule: 'gpipe', source: 'predicted' });
  return diffRuns(a, b);
}

test('changeCells: a, b, b − a and % per unit; fractions in percentage points without %', () => {
  assert.deepEqual(changeCells({ a: 10, b: 12.5, delta: 2.5, ratio: 1.25 }, 'ms'), ['10.00 ms', '12.50 ms', '+2.50 ms', '+25.0%']);
  assert.deepEqual(changeCells({ a: 0.25, b: 0.2, delta: -0.05, ratio: 0.8 }, 'fraction'), ['25.0%', '20.0%', '−5.0 pp', '']);
  assert.deepEqual(changeCells({ a: 4, b: 8, delta: 4, ratio: 2 }, 'count'), ['4', '8', '+4', '+100.0%']);
  assert.deepEqual(changeCells({ a: 2048, b: 1024, delta: -1024, ratio: 0.5 }, 'bytes'), ['2.0 KiB', '1.0 KiB', '−1.0 KiB', '−50.0%']);
  assert.deepEqual(changeCells({ a: 3, b: null, delta: null, ratio: null }, 'ms'), ['3.00 ms', '–', '–', '–']);
  assert.deepEqual(changeCells('garbage', 'rate'), ['–', '–', '–', '–']);
});

test('diffModel: the runs, the plan change, a run table, a block of rows per stage, a row per op kind', () => {
  const d = pair();
  const m = diffModel(d, ['a.pptrace.json', 'b.pptrace.json']);
  assert.match(m.runs[0], /^a: a\.pptrace\.json \(measured, complete\)/);
  assert.match(m.runs[1], /^b: b\.pptrace\.json \(predicted, complete\)/);
  assert.equal(m.plan, 'schedule 1f1b → gpipe');
  assert.deepEqual(m.notes, []);
  assert.deepEqual(m.tables.map((t) => t.key), ['run', 'stages', 'kinds']);
  for (const t of m.tables) for (const r of t.rows) assert.equal(r.cells.length, t.headers.length, `${t.key} ${r.key}`);
  const run = m.tables[0];
  assert.deepEqual(run.rows.map((r) => r.key), ['step', 'throughput', 'bubble', 'overlap', 'comm', 'straggler', 'straggler-busy']);
  assert.match(run.rows[0].cells.join(' | '), /^step time \| [\d.]+ ms \| [\d.]+ ms \| [+−±][\d.]+ ms \| [+−±][\d.]+%$/);
  const stages = m.tables[1];
  assert.deepEqual([...new Set(stages.rows.map((r) => r.key))], ['stage-0', 'stage-1']);
  const s0 = stages.rows.filter((r) => r.key === 'stage-0').map((r) => r.cells[1]);
  // Busy kinds that occur (OPT among them in a simulated run; W and R do not).
  assert.deepEqual(s0, ['layers', 'utilization', 'bubble', 'F ms', 'B ms', 'OPT ms', 'busy', 'communication', 'peak memory']);
  assert.deepEqual(stages.rows[0].cells.slice(0, 4), ['stage 0', 'layers', '0–3', '0–3']);
  const kinds = m.tables[2];
  assert.deepEqual(kinds.rows.map((r) => r.key), d.kinds.map((k) => k.kind));
  const f = kinds.rows.find((r) => r.key === 'F')!;
  // Counts per measured step: whole numbers plain, a fraction (a step cut short) with one decimal.
  assert.match(f.cells.slice(0, 4).join(' | '), /^F \| \d+(\.\d)? \| \d+(\.\d)? \| [+−±]\d+(\.\d)?$/);
  assert.equal(f.cells[2], String(d.kinds[0].count.b));
});

test('diffModel with different stage counts: the caption says so, the deltas are –, the missing stage is –', () => {
  const m = diffModel(pair(4), ['a', 'b']);
  assert.match(m.plan, /^stages 2 → 4; balance \[4,4\] → \[2,2,2,2\]; schedule 1f1b → gpipe$/);
  assert.equal(m.notes.length, 1);
  const stages = m.tables[1];
  assert.match(stages.caption, /different stage counts/);
  assert.ok(stages.rows.filter((r) => r.cells[1] !== 'layers').every((r) => r.cells[4] === '–'));
  const s3 = stages.rows.filter((r) => r.key === 'stage-3');
  assert.deepEqual(s3[0].cells.slice(2, 4), ['–', '6–7']);
  assert.equal(s3[1].cells[2], '–');
});

test('diffModel keeps hostile names as plain text (label: no control or bidi characters) and survives garbage', () => {
  const d = pair();
  d.a.model = `${IMG}\u202e\u0007`;
  d.notes = [`${IMG} note`];
  d.kinds[0].kind = `${IMG}`;
  const m = diffModel(d, [`${IMG}.pptrace.json`, 'b']);
  assert.equal(m.runs[0], `a: ${IMG}.pptrace.json (measured, complete) · ${IMG}\ufffd\ufffd`);
  assert.deepEqual(m.notes, [`${IMG} note`]);
  assert.equal(m.tables[2].rows[0].cells[0], IMG);
  // An old or broken message: no tables' rows, no throw.
  const broken = diffModel({ version: 1 } as unknown as TraceDiff, ['a', 'b']);
  assert.deepEqual(broken.tables.map((t) => t.rows.length), [7, 0, 0]);
  assert.equal(broken.plan, '');
  assert.deepEqual(broken.notes, []);
});

test('tone: a change reads better or worse by the metric\'s direction; tiny changes and unknowns are neither', async () => {
  const { tone } = await import('../../media/src/diff-table');
  const c = (a: number, b: number) => ({ a, b, delta: b - a, ratio: b / a });
  assert.equal(tone(c(10, 8), false), 'better', 'a shorter step');
  assert.equal(tone(c(10, 12), false), 'worse');
  assert.equal(tone(c(100, 120), true, 'rate'), 'better', 'more samples/s');
  assert.equal(tone(c(0.3, 0.2), false, 'fraction'), 'better', 'less bubble');
  assert.equal(tone(c(10, 10.04), false), '', 'under half a per cent');
  assert.equal(tone(c(0.3, 0.3004), false, 'fraction'), '', 'under 0.05 pp');
  assert.equal(tone({ a: null, b: 3, delta: null, ratio: null }, false), '');
  assert.equal(tone(c(1, 2), null), '', 'counts have no direction');
  const d = diffRuns(syntheticTimeline({ events: 600, stages: 2, microbatches: 4 }), syntheticTimeline({ events: 600, stages: 2, microbatches: 8 }));
  const run = diffModel(d, ['a', 'b']).tables[0];
  const step = run.rows.find((r) => r.key === 'step')!;
  assert.equal(step.tone, d.stepTimeMs.delta! < 0 ? 'better' : 'worse');
  assert.deepEqual(run.delta, [false, false, false, true, true]);
});
