// Communication overlap on hand-built timelines: time on the send/receive/all-reduce lanes and the share hidden under compute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overlap } from '../../core/analysis/overlap';
import { bubbles } from '../../core/analysis/bubbles';
import { ONE_F_ONE_B, timeline } from './fixtures';

test('comm partly under compute: a SEND or RECV counts its transfer only (the fastest of its size), 1 of 3 ms hidden', () => {
  //   ms       0   1   2   3   4   5   6   7
  //   compute  F0  F0  F0  F0
  //   send                 SEND SEND            the fastest transfer of this size takes 1 ms (the RECV):
  //                        wait xfer            the SEND's first ms waited for its peer (bubble), its last is transfer
  //   recv                             RECV     transfer, not under compute
  //   allred       AR                           all of it under compute
  const t = timeline({
    stages: 1,
    steps: [{ start: 0, end: 8, ops: [[0, 'F', 0, 0, 4], [0, 'SEND', 0, 3, 5, 1], [0, 'RECV', 0, 6, 7, 1], [0, 'ALLREDUCE', null, 1, 2]] }],
  });
  const o = overlap(t);
  assert.deepEqual(o.stages[0], { stage: 0, sendMs: 1, recvMs: 1, allreduceMs: 1, commMs: 3, overlappedMs: 1, exposedMs: 2, overlapFraction: 1 / 3, allreduceOverlappedMs: 1, allreduceOverlapFraction: 1 });
  assert.equal(o.allreduceMs, 1);
  assert.equal(o.allreduceOverlapFraction, 1);
  assert.equal(o.overlapFraction, 1 / 3);
  // The same split, per stage: 1 ms waiting (bubble), 1 ms exposed transfer (SEND's tail and the RECV, 2 ms in all).
  const b = bubbles(t).stages[0];
  assert.deepEqual([b.computeMs, b.waitingMs, b.transferMs, b.collectiveMs, b.idleMs], [4, 0, 2, 0, 2]);
});

test('1F1B with a blocking runtime: the receives are pure waiting (instant sends of the same size): bubble, not communication', () => {
  const t = timeline({ stages: 2, plan: { microbatches: 2 }, steps: [{ ops: ONE_F_ONE_B, start: 0, end: 7 }] });
  const o = overlap(t);
  assert.deepEqual(o.stages.map((s) => [s.recvMs, s.sendMs, s.overlappedMs]), [[0, 0, 0], [0, 0, 0]]);
  assert.equal(o.commMs, 0);
  assert.equal(o.overlapFraction, null);
  assert.deepEqual(bubbles(t).stages.map((s) => [s.waitingMs, s.transferMs, s.idleMs]), [[2, 0, 0], [1, 0, 1]]);
});

test('compute spread over several ops and a comm op spanning them', () => {
  const t = timeline({
    stages: 1,
    steps: [{ start: 0, end: 10, ops: [[0, 'F', 0, 0, 2], [0, 'F', 1, 3, 4], [0, 'B', 1, 4, 6], [0, 'SEND', 0, 1, 9, 1]] }],
  });
  // Covered: [1,2] + [3,6] = 4 of 8 ms.
  assert.equal(overlap(t).stages[0].overlappedMs, 4);
  assert.equal(overlap(t).overlapFraction, 0.5);
});

test('no communication: overlap fraction is null, not 0/0', () => {
  const t = timeline({ stages: 1, steps: [{ start: 0, end: 2, ops: [[0, 'F', 0, 0, 1]] }] });
  assert.equal(overlap(t).overlapFraction, null);
  assert.equal(overlap(t).stages[0].overlapFraction, null);
});
