// Interleaved 1F1B as data: the drawn timeline, Megatron-LM's chunk order, torch's micro-batch rule, validity and memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interleaved1F1B, oneFOneB, unitTimeline, validateSchedule, buildSchedule, opLabel } from '../../core/schedule';
import { checkChunks, interleavedRounds } from '../../core/plan/check';
import { stageCount, virtualStages } from '../../core/plan/types';
import type { Schedule } from '../../core/schedule';

const grid = (s: Schedule, stages: number, microbatches: number, chunks: number) =>
  unitTimeline(s, { stages, microbatches, chunks }).rows.map((r) => r.map((c) => c.padEnd(4)).join(' ').trimEnd());
const RECOMPUTE = ['never', 'except-last', 'always'] as const;
/** torch.distributed.pipelining's rule: M splits into max(1, ⌊M/S⌋) equal rounds. */
const allowed = (S: number, M: number) => M % Math.max(1, Math.floor(M / S)) === 0;

test('interleaved S=2 M=4 v=2: (v−1)·S + 2(S−s−1) warm-up forwards, 1F1B over chunks, cool-down (unit time, label F<m>.<chunk>)', () => {
  assert.deepEqual(grid(interleaved1F1B({ stages: 2, microbatches: 4, chunks: 2 }), 2, 4, 2), [
    'F0.0 F1.0 F0.1 F1.1 F2.0 B0.1 F3.0 B1.1 F2.1 B0.0 F3.1 B1.0 .    B2.1 .    B3.1 B2.0 B3.0',
    '.    F0.0 F1.0 F0.1 B0.1 F1.1 B1.1 F2.0 B0.0 F3.0 B1.0 F2.1 B2.1 F3.1 B3.1 B2.0 B3.0',
  ]);
});

test('chunk order is Megatron-LM get_model_chunk_id: forwards in groups of S per chunk, backwards from the last chunk', () => {
  const S = 4, M = 8, v = 2;
  interleaved1F1B({ stages: S, microbatches: M, chunks: v }).forEach((ops) => {
    const f = ops.filter((o) => o.op === 'F');
    const b = ops.filter((o) => o.op === 'B');
    f.forEach((o, k) => assert.equal(o.chunk, Math.floor(k / S) % v));
    b.forEach((o, k) => assert.equal(o.chunk, v - 1 - (Math.floor(k / S) % v)));
    // Within a chunk, micro-batches in order.
    for (let c = 0; c < v; c++) {
      assert.deepEqual(f.filter((o) => o.chunk === c).map((o) => o.microbatch), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.deepEqual(b.filter((o) => o.chunk === c).map((o) => o.microbatch), [0, 1, 2, 3, 4, 5, 6, 7]);
    }
  });
  // Warm-up: (v−1)·S + 2(S−s−1) forwards before the first backward.
  interleaved1F1B({ stages: S, microbatches: M, chunks: v }).forEach((ops, s) => assert.equal(ops.findIndex((o) => o.op === 'B'), (v - 1) * S + 2 * (S - s - 1) + 1));
});

test("torch's relaxed rule: 10 micro-batches on 4 stages run as 2 rounds of 5", () => {
  assert.equal(interleavedRounds(4, 10), 2);
  const stage0 = interleaved1F1B({ stages: 4, microbatches: 10, chunks: 2 })[0].filter((o) => o.op === 'F').map((o) => o.chunk).join('');
  assert.equal(stage0, '00000111110000011111');
  assert.deepEqual(checkChunks({ balance: Array(8).fill(1), microbatches: 10, schedule: 'interleaved-1f1b', chunks: 2 }), []);
});

test('chunks 1 is exactly 1F1B', () => {
  for (let S = 1; S <= 5; S++)
    for (const M of [1, 3, 8]) assert.deepEqual(interleaved1F1B({ stages: S, microbatches: M, chunks: 1 }), oneFOneB({ stages: S, microbatches: M }));
  assert.deepEqual(buildSchedule({ balance: [2, 2, 2], microbatches: 4, schedule: 'interleaved-1f1b', recompute: 'never' }), oneFOneB({ stages: 3, microbatches: 4 }));
});

test('every interleaved schedule for S ≤ 8, M ≤ 16, v ∈ 2..4 that the rule allows is valid (coverage, order, no deadlock)', () => {
  let n = 0;
  for (const recompute of RECOMPUTE)
    for (let v = 2; v <= 4; v++)
      for (let S = 1; S <= 8; S++)
        for (let M = 1; M <= 16; M++) {
          const plan = { balance: Array(S * v).fill(1), microbatches: M, schedule: 'interleaved-1f1b' as const, recompute, chunks: v };
          if (!allowed(S, M)) {
            assert.equal(checkChunks(plan).length, 1, `S=${S} M=${M}`);
            assert.throws(() => buildSchedule(plan), /^Error: interleaved-1f1b needs the micro-batches to split/);
            continue;
          }
          const s = buildSchedule(plan);
          assert.equal(s.length, S);
          assert.deepEqual(validateSchedule(s, { stages: S, microbatches: M, chunks: v }), []);
          n++;
        }
  assert.equal(n, 3 * 3 * 106); // 106 allowed (S, M) pairs of the 128
});

test('recompute: R right before the B of the same micro-batch and chunk', () => {
  const ops = interleaved1F1B({ stages: 2, microbatches: 2, chunks: 2, recompute: 'except-last' })[1].map(opLabel).join(' ');
  assert.equal(ops, 'F0.0 F1.0 F0.1 R0.1 B0.1 F1.1 B1.1 R0.0 B0.0 B1.0');
});

test('peak in-flight chunk activations on stage s is min(M·v, (v−1)·g + 2(S−s−1) + 1), g = M / rounds', () => {
  // Documented: with S = 4, M = 8, v = 2 stage 0 holds 11 chunk activations, 5.5 stages' worth against 1F1B's 4;
  // interleaving buys its smaller bubble with (v−1)·g + S − 1 more chunk activations on the first stage.
  const peaks = (s: Schedule) =>
    s.map((ops) => {
      let inFlight = 0, peak = 0;
      for (const o of ops) {
        if (o.op === 'F') peak = Math.max(peak, ++inFlight);
        if (o.op === 'B') inFlight--;
      }
      return peak;
    });
  assert.deepEqual(peaks(interleaved1F1B({ stages: 4, microbatches: 8, chunks: 2 })), [11, 9, 7, 5]);
  for (let v = 2; v <= 4; v++)
    for (let S = 1; S <= 8; S++)
      for (let M = 1; M <= 16; M++) {
        if (!allowed(S, M)) continue;
        const g = M / interleavedRounds(S, M);
        assert.deepEqual(peaks(interleaved1F1B({ stages: S, microbatches: M, chunks: v })), Array.from({ length: S }, (_, s) => Math.min(M * v, (v - 1) * g + 2 * (S - s - 1) + 1)));
      }
});

test('checkChunks: one line per problem, rule then values then fix', () => {
  const plan = { balance: [1, 1, 1, 1], microbatches: 4, schedule: 'interleaved-1f1b' as const };
  assert.deepEqual(checkChunks(plan), []);
  assert.deepEqual(checkChunks({ ...plan, chunks: 2 }), []);
  assert.deepEqual(checkChunks({ ...plan, chunks: 0 }), ['chunks must be a whole number of at least 1 (got 0); use chunks 1 for no interleaving, or 2 or more with schedule interleaved-1f1b']);
  assert.deepEqual(checkChunks({ ...plan, balance: [1, 1, 1, 1, 1, 1, 1], chunks: 2 }), [
    'balance lists layers per virtual stage, a multiple of chunks 2, but has 7 entries (balance: [1,1,1,1,1,1,1]); give 8 entries for 4 stages × 2 chunks, or change chunks',
  ]);
  assert.deepEqual(checkChunks({ ...plan, schedule: 'zb-h1', chunks: 2 }), ['schedule zb-h1 runs one model chunk per stage but the plan has chunks 2; use schedule interleaved-1f1b, or chunks 1']);
  assert.deepEqual(checkChunks({ ...plan, balance: Array(8).fill(1), microbatches: 9, chunks: 2 }), [
    "interleaved-1f1b needs the micro-batches to split into max(1, ⌊M/S⌋) equal rounds (torch.distributed.pipelining's rule), but 9 micro-batches on 4 stages make 2 rounds of 4.5; use 8 or 10 micro-batches",
  ]);
  assert.throws(() => buildSchedule({ ...plan, schedule: 'gpipe', recompute: 'never', chunks: 2 }), { message: 'schedule gpipe runs one model chunk per stage but the plan has chunks 2; use schedule interleaved-1f1b, or chunks 1' });
});

test('stageCount and virtualStages read the balance by chunks', () => {
  assert.equal(stageCount({ balance: [1, 2, 3, 4, 5, 6] }), 6);
  assert.equal(stageCount({ balance: [1, 2, 3, 4, 5, 6], chunks: 2 }), 3);
  assert.equal(virtualStages({ balance: [1, 2, 3, 4, 5, 6], chunks: 2 }), 6);
});
