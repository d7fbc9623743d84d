// The critical path (walked back from a step's last op through stage order and transfers) and the straggler stage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { criticalPath, pathLabel, straggler } from '../../core/analysis/critical-path';
import { ONE_F_ONE_B, STRAGGLER, shift, timeline } from './fixtures';

test('1F1B, unit ops: the path crosses to stage 1 for its forwards and backwards, then back for B1 and OPT', () => {
  const t = timeline({ stages: 2, plan: { microbatches: 2 }, steps: [{ ops: ONE_F_ONE_B, start: 0, end: 7 }] });
  const p = criticalPath(t);
  assert.equal(
    pathLabel(p),
    'F0·s0 → SEND0·s0→1 → RECV0·s1←0 → F0·s1 → B0·s1 → RECV1·s1←0 → F1·s1 → B1·s1 → SEND1·s1→0 → RECV1·s0←1 → B1·s0 → OPT·s0',
  );
  // F1 on stage 1 waited for its own B0, not for stage 0 (whose F1 ended at 2): the path stays on stage 1.
  assert.equal(p.stepMs, 7);
  assert.equal(p.pathMs, 7);
  assert.equal(p.gapMs, 0);
  assert.deepEqual(p.byStage, [3, 4]);
  assert.deepEqual(p.byKind, { F: 3, SEND: 0, RECV: 0, B: 3, OPT: 1 });
});

test('a slow last stage: the path is F0 s0 → F0 s1 → B0 s1 → B0 s0; stage 1 is the straggler, 50% over the mean', () => {
  const t = timeline({ stages: 2, steps: [{ ops: STRAGGLER, start: 0, end: 8 }] });
  const p = criticalPath(t);
  assert.equal(pathLabel(p), 'F0·s0 → F0·s1 → B0·s1 → B0·s0');
  assert.deepEqual(p.ops.map((o) => [o.startMs, o.durMs, o.onPathMs]), [[0, 1, 1], [1, 3, 3], [4, 3, 3], [7, 1, 1]]);
  assert.deepEqual(straggler(t), { stage: 1, busyMs: 6, meanBusyMs: 4, overMeanMs: 2, overMeanFraction: 0.5 });
});

test('a receive that waited overlaps its producer: only its tail is on the path', () => {
  // Stage 1 starts waiting at 0; stage 0 computes F0 until 3, the transfer lands at 4.
  const t = timeline({
    stages: 2,
    steps: [{ start: 0, end: 6, ops: [[0, 'F', 0, 0, 3], [0, 'SEND', 0, 3, 4, 1], [1, 'RECV', 0, 0, 4.5, 0], [1, 'F', 0, 4.5, 6]] }],
  });
  const p = criticalPath(t);
  assert.equal(pathLabel(p), 'F0·s0 → SEND0·s0→1 → RECV0·s1←0 → F0·s1');
  assert.deepEqual(p.ops.map((o) => o.onPathMs), [3, 1, 0.5, 1.5]);
  assert.equal(p.pathMs, 6);
});

test('by default the path is of the measured step nearest the median; any step can be asked for', () => {
  const t = timeline({
    stages: 2,
    steps: [
      { ops: shift(STRAGGLER, 0, 3), start: 0, end: 24, warmup: true },
      { ops: shift(STRAGGLER, 30, 2), start: 30, end: 46 },
      { ops: shift(STRAGGLER, 50), start: 50, end: 58 },
      { ops: shift(STRAGGLER, 60), start: 60, end: 68 },
    ],
  });
  assert.equal(criticalPath(t).step, 2);
  assert.equal(criticalPath(t, 1).stepMs, 16);
  assert.throws(() => criticalPath(t, 9), /step 9 is not in the trace/);
});
