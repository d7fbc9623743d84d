// Step-time spread on hand-built timelines: the measured steps' range and the slow ones; warm-up steps left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOW_STEP, stepSpread } from '../../core/analysis/step-spread';
import { buildReport } from '../../core/analysis/report';
import { STRAGGLER, shift, timeline } from './fixtures';

test('range of the measured steps, relative to their median; a step ≥ 1.1 × the median is slow', () => {
  const t = timeline({
    stages: 2,
    steps: [
      { ops: shift(STRAGGLER, 0, 3), start: 0, end: 30, warmup: true }, // slowest of all, but warm-up
      { ops: shift(STRAGGLER, 30), start: 30, end: 38 }, // 8 ms
      { ops: shift(STRAGGLER, 40), start: 40, end: 48.5 }, // 8.5 ms
      { ops: shift(STRAGGLER, 50), start: 50, end: 59.4 }, // 9.4 ms: 1.106 × the median
      { ops: shift(STRAGGLER, 60), start: 60, end: 68.5 }, // 8.5 ms
    ],
  });
  const sp = stepSpread(t);
  assert.equal(sp.minMs, 8);
  assert.ok(Math.abs(sp.maxMs - 9.4) < 1e-9);
  assert.ok(Math.abs(sp.relative - 1.4 / 8.5) < 1e-9, String(sp.relative));
  assert.deepEqual(sp.slowSteps, [3]);
  assert.equal(SLOW_STEP, 1.1);
  assert.deepEqual(buildReport(t).stepTimeSpread, sp, 'the report carries it');
});

test('steady steps: no slow step; one step: no spread', () => {
  const steady = timeline({ stages: 2, steps: [0, 10, 20].map((s) => ({ ops: shift(STRAGGLER, s), start: s, end: s + 8 })) });
  assert.deepEqual(stepSpread(steady), { minMs: 8, maxMs: 8, relative: 0, slowSteps: [] });
  const one = timeline({ stages: 2, steps: [{ ops: STRAGGLER, start: 0, end: 8 }] });
  assert.deepEqual(stepSpread(one), { minMs: 8, maxMs: 8, relative: 0, slowSteps: [] });
});
