// Schedules as data: timeline-shaped tests of gpipe and 1f1b, and the validator's rejections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpipe, oneFOneB, clockCycles, unitTimeline, validateSchedule, buildSchedule } from '../../core/schedule';
import type { Schedule } from '../../core/schedule';

const grid = (s: Schedule, stages: number, microbatches: number) =>
  unitTimeline(s, { stages, microbatches }).rows.map((r) => r.map((c) => c.padEnd(2)).join(' ').trimEnd());

test('clock cycles form the GPipe diagonal (torchgpipe)', () => {
  assert.deepEqual(clockCycles(3, 3), [
    [[0, 0]],
    [[1, 0], [0, 1]],
    [[2, 0], [1, 1], [0, 2]],
            [[2, 1], [1, 2]],
                    [[2, 2]],
  ]);
});

test('gpipe S=3 M=3: all forwards, then all backwards in reverse', () => {
  assert.deepEqual(grid(gpipe({ stages: 3, microbatches: 3 }), 3, 3), [
    'F0 F1 F2 .  .  .  .  B2 B1 B0',
    '.  F0 F1 F2 .  .  B2 B1 B0',
    '.  .  F0 F1 F2 B2 B1 B0',
  ]);
});

test('1f1b S=3 M=4: warm-up, one forward one backward, cool-down', () => {
  assert.deepEqual(grid(oneFOneB({ stages: 3, microbatches: 4 }), 3, 4), [
    'F0 F1 F2 .  .  B0 F3 B1 .  B2 .  B3',
    '.  F0 F1 .  B0 F2 B1 F3 B2 .  B3',
    '.  .  F0 B0 F1 B1 F2 B2 F3 B3',
  ]);
});

test('recompute inserts R right before B; except-last spares the last micro-batch', () => {
  const ops = (s: Schedule) => s[1].map((o) => `${o.op}${o.microbatch}`).join(' ');
  assert.equal(ops(gpipe({ stages: 2, microbatches: 3, recompute: 'always' })), 'F0 F1 F2 R2 B2 R1 B1 R0 B0');
  assert.equal(ops(gpipe({ stages: 2, microbatches: 3, recompute: 'except-last' })), 'F0 F1 F2 B2 R1 B1 R0 B0');
  assert.equal(ops(oneFOneB({ stages: 2, microbatches: 3, recompute: 'except-last' })), 'F0 R0 B0 F1 R1 B1 F2 B2');
});

test('every schedule the runtime may build is valid', () => {
  for (const schedule of ['gpipe', '1f1b'] as const)
    for (const recompute of ['always', 'except-last', 'never'] as const)
      for (let S = 1; S <= 8; S++)
        for (const M of [1, 2, 3, 4, 7, 8, 16]) {
          const s = buildSchedule({ balance: Array(S).fill(1), microbatches: M, schedule, recompute });
          assert.equal(s.length, S);
          assert.deepEqual(validateSchedule(s, { stages: S, microbatches: M }), []);
        }
});

test('1f1b keeps at most S−s micro-batches in flight on stage s (its memory bound)', () => {
  const S = 4, M = 8;
  oneFOneB({ stages: S, microbatches: M }).forEach((ops, s) => {
    let inFlight = 0, peak = 0;
    for (const o of ops) {
      if (o.op === 'F') peak = Math.max(peak, ++inFlight);
      if (o.op === 'B') inFlight--;
    }
    assert.equal(peak, S - s);
  });
});

test('validator rejects a missing op, a repeated op and a deadlock', () => {
  const missing = gpipe({ stages: 2, microbatches: 2 });
  missing[1] = missing[1].filter((o) => !(o.op === 'B' && o.microbatch === 0));
  assert.deepEqual(validateSchedule(missing, { stages: 2, microbatches: 2 }), ['stage 1 misses op B0']);

  const repeated = gpipe({ stages: 2, microbatches: 2 });
  repeated[0].push({ op: 'F', stage: 0, microbatch: 1 });
  assert.deepEqual(validateSchedule(repeated, { stages: 2, microbatches: 2 }), ['stage 0 runs op F1 2 times']);

  // Stage 0 waits for B0 before sending F1, stage 1 needs F1 before it can do anything else: a cycle.
  const cycle: Schedule = [
    [{ op: 'F', stage: 0, microbatch: 0 }, { op: 'B', stage: 0, microbatch: 1 }, { op: 'F', stage: 0, microbatch: 1 }, { op: 'B', stage: 0, microbatch: 0 }],
    [{ op: 'F', stage: 1, microbatch: 1 }, { op: 'F', stage: 1, microbatch: 0 }, { op: 'B', stage: 1, microbatch: 0 }, { op: 'B', stage: 1, microbatch: 1 }],
  ];
  const problems = validateSchedule(cycle, { stages: 2, microbatches: 2 });
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^schedule deadlocks: stage 0 waits at B1, stage 1 waits at F1/);
});

test('validator rejects a recompute that is not right before its backward', () => {
  const s = gpipe({ stages: 1, microbatches: 2 });
  s[0] = [{ op: 'F', stage: 0, microbatch: 0 }, { op: 'F', stage: 0, microbatch: 1 }, { op: 'R', stage: 0, microbatch: 0 }, { op: 'B', stage: 0, microbatch: 1 }, { op: 'B', stage: 0, microbatch: 0 }];
  assert.deepEqual(validateSchedule(s, { stages: 1, microbatches: 2 }), ['stage 0: recompute R0 must come right before its backward']);
});
