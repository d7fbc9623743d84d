// The partition DP: optimal against brute force on random small cost vectors, memory limits respected, clear reasons when nothing fits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniforms } from '../../core/model/rng';
import { neighbourBalances, optimalPartition, stageTimesMs } from '../../core/plan/partition';
import { formatBytes } from '../../core/text';
import type { PartitionInput } from '../../core/plan/partition';

/** Every balance of L layers into S stages (compositions), for brute force. */
function compositions(L: number, S: number): number[][] {
  if (S === 1) return [[L]];
  const out: number[][] = [];
  for (let first = 1; first <= L - (S - 1); first++) for (const rest of compositions(L - first, S - 1)) out.push([first, ...rest]);
  return out;
}

/** A deterministic PRNG, so a failure reproduces. */
const rng = uniforms;

const memoryOf = (bytes: number[], perStage: number[]) => (s: number, i: number, j: number) => perStage[s] + bytes.slice(i, j).reduce((a, b) => a + b, 0);

function fits(input: PartitionInput, balance: number[]): boolean {
  let first = 0;
  return balance.every((n, s) => {
    const ok = input.memoryLimitBytes === undefined || input.stageBytes!(s, first, first + n) <= input.memoryLimitBytes;
    first += n;
    return ok;
  });
}

test('the DP finds the least bottleneck of every contiguous split (brute force, 400 random cases with and without memory limits)', () => {
  const rand = rng(42);
  for (let trial = 0; trial < 400; trial++) {
    const L = 1 + Math.floor(rand() * 9);
    const S = 1 + Math.floor(rand() * L);
    const input: PartitionInput = {
      layerMs: Array.from({ length: L }, () => Math.round(rand() * 100) / 10),
      boundaryMs: Array.from({ length: L }, () => Math.round(rand() * 30) / 10),
      stages: S,
    };
    if (trial % 2) {
      const bytes = Array.from({ length: L }, () => Math.floor(rand() * 100));
      // Earlier stages hold more in-flight micro-batches under 1F1B: a stage-dependent term.
      input.stageBytes = memoryOf(bytes, Array.from({ length: S }, (_, s) => (S - s) * 10));
      input.memoryLimitBytes = 60 + Math.floor(rand() * 200);
    }
    const all = compositions(L, S).filter((b) => fits(input, b));
    const r = optimalPartition(input);
    if (!all.length) {
      assert.equal(r.ok, false, `trial ${trial}: nothing fits, yet the DP returned a balance`);
      continue;
    }
    const best = Math.min(...all.map((b) => Math.max(...stageTimesMs(input, b))));
    assert.ok(r.ok, `trial ${trial}: a split fits but the DP says ${!r.ok && r.reason}`);
    assert.equal(r.balance.length, S);
    assert.equal(r.balance.reduce((a, b) => a + b, 0), L);
    assert.ok(r.balance.every((n) => n >= 1));
    assert.ok(fits(input, r.balance), `trial ${trial}: balance [${r.balance}] breaks the memory limit`);
    assert.ok(Math.abs(r.bottleneckMs - best) < 1e-9, `trial ${trial}: DP ${r.bottleneckMs} vs brute force ${best}`);
    assert.ok(Math.abs(Math.max(...r.stageMs) - best) < 1e-9);
  }
});

test('a costly last layer gets a stage of its own', () => {
  const r = optimalPartition({ layerMs: [1, 1, 1, 1, 1, 1, 1, 8], stages: 2 });
  assert.ok(r.ok);
  assert.deepEqual(r.balance, [7, 1]);
  assert.equal(r.bottleneckMs, 8);
  // [1,1,3], [1,2,2] and [1,3,1] all have a 3 ms bottleneck: the most even one wins.
  const even = optimalPartition({ layerMs: [3, 1, 1, 1, 1], stages: 3 });
  assert.ok(even.ok);
  assert.deepEqual(even.balance, [1, 2, 2]);
});

test('boundary transfers count on both sides of a cut', () => {
  // Without transfers [2,2] balances 4 layers of 1 ms; an expensive cut before layer 2 pushes the split elsewhere.
  const r = optimalPartition({ layerMs: [1, 1, 1, 1], boundaryMs: [0, 0, 5, 0], stages: 2 });
  assert.ok(r.ok);
  assert.notDeepEqual(r.balance, [2, 2]);
  assert.deepEqual(stageTimesMs({ layerMs: [1, 1, 1, 1], boundaryMs: [0, 0, 5, 0], stages: 2 }, [2, 2]), [7, 7]);
});

test('the memory limit moves layers off a stage that would not fit, and no fit gives one clear reason', () => {
  const input: PartitionInput = {
    layerMs: [1, 1, 1, 1, 1, 1],
    stages: 2,
    // 1 GiB per layer, and stage 0 carries 2 GiB more: it can hold at most 2 layers under 4 GiB.
    stageBytes: memoryOf([1, 1, 1, 1, 1, 1].map((x) => x * 2 ** 30), [2 * 2 ** 30, 0]),
    memoryLimitBytes: 4 * 2 ** 30,
  };
  const r = optimalPartition(input);
  assert.ok(r.ok);
  assert.deepEqual(r.balance, [2, 4]);
  assert.equal(r.bottleneckMs, 4);
  const none = optimalPartition({ ...input, memoryLimitBytes: 3.5 * 2 ** 30 });
  assert.deepEqual(none, { ok: false, reason: 'no split of 6 layers into 2 stages keeps every stage within 3.50 GiB; the least any needs is 4.00 GiB (balance [2,4])' });
  const wait = optimalPartition({ layerMs: [1, 2], stages: 3 });
  assert.deepEqual(wait, { ok: false, reason: '3 stages need at least 3 layers but the model has 2; use 2 stages or fewer' });
});

test('neighbours move one layer across one boundary, never emptying a stage', () => {
  assert.deepEqual(neighbourBalances([4, 4]), [[3, 5], [5, 3]]);
  assert.deepEqual(neighbourBalances([1, 2, 1]), [[2, 1, 1], [1, 1, 2]]);
  assert.deepEqual(neighbourBalances([3]), []);
});

test('byte sizes print in binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1.5 * 2 ** 30), '1.50 GiB');
  assert.equal(formatBytes(300 * 2 ** 20), '300 MiB');
  assert.equal(formatBytes(12.25 * 2 ** 10), '12.3 KiB');
});
