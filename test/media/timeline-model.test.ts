// Timeline model without a DOM: column normalisation, per-band index, visible-window search, level-of-detail bucketing, viewport.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { KINDS } from '../../media/src/protocol';
import type { RunView } from '../../media/src/protocol';
import {
  IDLE, LANE_COUNT, LANE_OF_KIND, MAX_OPS_PER_PX, Rects, Viewport, buildIndex, firstMeasuredStart, hitTest, layoutBand, lowerBound, niceTicks, toColumns, upperBound, visibleRange,
} from '../../media/src/timeline-model';
import type { TimelineIndex } from '../../media/src/timeline-model';

const K = (k: (typeof KINDS)[number]) => KINDS.indexOf(k);

/** Ops from rows of [kind, row, start, dur]. */
function ops(rows: [string, number, number, number][]): RunView['ops'] {
  return {
    kind: rows.map((r) => K(r[0] as (typeof KINDS)[number])), row: rows.map((r) => r[1]), start: rows.map((r) => r[2]), dur: rows.map((r) => r[3]),
    microbatch: rows.map((_, i) => i % 4), step: rows.map(() => 0), bytes: rows.map(() => 0),
  };
}

/** A deterministic pseudo-random generator (tests must not depend on Math.random). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** n ops over `rows` rows and `span` ms, kinds drawn from `kinds`, durations up to maxDur, plus a few long ones. */
function randomIndex(n: number, rows: number, span: number, kinds: number[], maxDur: number, seed = 1): TimelineIndex {
  const r = rng(seed);
  const o = { kind: new Uint8Array(n), row: new Int32Array(n), start: new Float64Array(n), dur: new Float64Array(n), microbatch: new Int32Array(n), step: new Int32Array(n), bytes: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    o.kind[i] = kinds[Math.floor(r() * kinds.length)];
    o.row[i] = Math.floor(r() * rows);
    o.start[i] = r() * span;
    o.dur[i] = i % 997 === 0 ? span / 10 : r() * maxDur;
  }
  return buildIndex(toColumns(o), rows, span);
}

test('toColumns takes arrays, typed arrays and JSON-round-tripped typed arrays alike', () => {
  const typed = { kind: new Uint8Array([0, 1]), row: new Int32Array([0, 1]), start: new Float64Array([1, 2]), dur: new Float64Array([3, 4]), microbatch: new Int32Array([0, -1]), step: new Int32Array([1, 1]), bytes: new Float64Array([0, 512]) };
  const viaJson = JSON.parse(JSON.stringify(typed)) as RunView['ops'];
  assert.deepEqual(viaJson.kind, { 0: 0, 1: 1 }); // what JSON makes of a Uint8Array
  for (const input of [typed, viaJson, ops([['F', 0, 1, 3], ['B', 1, 2, 4]])]) {
    const c = toColumns(input);
    assert.equal(c.length, 2);
    assert.deepEqual(Array.from(c.kind), [0, 1]);
    assert.deepEqual(Array.from(c.start), [1, 2]);
    assert.deepEqual(Array.from(c.dur), [3, 4]);
  }
});

test('toColumns names the column whose length disagrees', () => {
  const bad = { ...ops([['F', 0, 0, 1], ['F', 0, 1, 1]]), start: [0] };
  assert.throws(() => toColumns(bad), /ops\.start has 1 entries but ops\.kind has 2/);
});

test('buildIndex groups ops by row and lane, sorts each band by start and skips ops it cannot place', () => {
  const idx = buildIndex(
    toColumns(ops([['B', 1, 5, 1], ['F', 1, 1, 1], ['SEND', 1, 2, 0.5], ['RECV', 0, 0, 3], ['ALLREDUCE', 0, 4, 1], ['OPT', 0, 9, 1], ['F', 7, 0, 1]])),
    2,
  );
  assert.equal(idx.bands.length, 2 * LANE_COUNT);
  assert.equal(idx.skipped, 1, 'row 7 is outside 2 rows');
  const band = (row: number, lane: number) => Array.from(idx.bands[row * LANE_COUNT + lane].ops);
  assert.deepEqual(band(1, 0), [1, 0], 'F at 1 before B at 5');
  assert.deepEqual(band(1, 1), [2]);
  assert.deepEqual(band(0, 2), [3]);
  assert.deepEqual(band(0, 3), [4]);
  assert.deepEqual(band(0, 0), [5], 'OPT is compute');
  assert.equal(idx.spanMs, 10);
  assert.deepEqual(Array.from(idx.bands[1 * LANE_COUNT].endMax), [2, 6]);
  assert.deepEqual(LANE_OF_KIND, [0, 0, 0, 0, 1, 2, 3, 0, 0, 3, 3, 3, 0, 0, 3]);
});

test('lowerBound and upperBound', () => {
  const a = [1, 2, 2, 2, 5];
  assert.equal(lowerBound(a, 2), 1);
  assert.equal(upperBound(a, 2), 4);
  assert.equal(lowerBound(a, 0), 0);
  assert.equal(upperBound(a, 9), 5);
});

test('visibleRange holds every op touching the window and starts and ends tight, long ops included', () => {
  const idx = randomIndex(20_000, 3, 1000, [K('F'), K('B')], 2, 7);
  const { start, dur } = idx.cols;
  for (const [t0, t1] of [[0, 1000], [100, 101], [499.5, 620], [990, 1000], [0, 0.01]]) {
    for (const band of idx.bands) {
      if (!band.ops.length) continue;
      const { lo, hi } = visibleRange(band, t0, t1);
      for (let j = 0; j < band.ops.length; j++) {
        const i = band.ops[j];
        const touches = start[i] + dur[i] >= t0 && start[i] <= t1;
        if (touches) assert.ok(j >= lo && j < hi, `op ${i} [${start[i]}, ${start[i] + dur[i]}] touches [${t0}, ${t1}] but is outside [${lo}, ${hi})`);
      }
      if (lo > 0) assert.ok(band.endMax[lo - 1] < t0);
      if (hi < band.ops.length) assert.ok(band.starts[hi] > t1);
    }
  }
});

test('level of detail: 100,000 ops drawn 1000 px wide give at most one rectangle per pixel column per row', () => {
  const rows = 4;
  const idx = randomIndex(100_000, rows, 10_000, [K('F'), K('B'), K('W'), K('R'), K('OPT')], 0.5);
  const out = new Rects();
  let total = 0;
  for (const band of idx.bands) {
    if (!band.ops.length) continue;
    out.clear();
    const lay = layoutBand(idx, band, 0, 10_000, 1000, out);
    assert.equal(lay.mode, 'buckets');
    assert.ok(out.length <= 1000);
    // Runs are disjoint, in order, inside the plot, and never idle.
    let prevEnd = 0;
    for (let j = 0; j < out.length; j++) {
      assert.ok(out.x[j] >= prevEnd && out.w[j] >= 1 && out.x[j] + out.w[j] <= 1000);
      assert.notEqual(out.kind[j], IDLE);
      assert.equal(out.op[j], -1);
      prevEnd = out.x[j] + out.w[j];
    }
    total += out.length;
  }
  assert.ok(total <= rows * 1000, `${total} rectangles for ${rows} rows`);
});

test('level of detail with communication: at most one rectangle per pixel column per band (row × lane)', () => {
  const idx = randomIndex(200_000, 4, 10_000, KINDS.map((_, k) => k), 0.5, 3);
  const out = new Rects();
  let total = 0;
  let bands = 0;
  for (const band of idx.bands) {
    if (!band.ops.length) continue;
    bands++;
    out.clear();
    layoutBand(idx, band, 0, 10_000, 1000, out);
    total += out.length;
  }
  assert.ok(total <= bands * 1000, `${total} rectangles for ${bands} bands`);
});

test('level of detail: in each pixel column the kind with the most time wins, idle included on the compute lane', () => {
  // Window [0, 100] ms on 10 px: 10 ms per column.
  const rows: [string, number, number, number][] = [];
  // Column 0: six 1 ms F (6 ms) against one 3 ms B: F has more time although B is the longest op.
  for (let i = 0; i < 6; i++) rows.push(['F', 0, i * 1.5, 1]);
  rows.push(['B', 0, 6.5, 3]);
  // Column 1: B 7 ms, F 2 ms.
  rows.push(['F', 0, 10, 2], ['B', 0, 12.5, 7]);
  // Column 2: only 3 ms of R: idle (7 ms) wins, so nothing is drawn there.
  rows.push(['R', 0, 20, 3]);
  // Columns 3–5: one long OPT covering 30..60 exactly.
  rows.push(['OPT', 0, 30, 30]);
  // Column 7 of the send lane: 1 ms of SEND still shows (no idle on communication lanes).
  rows.push(['SEND', 0, 71, 1]);
  // Pad with tiny ops at the far right so the band is dense enough (> 2 ops per pixel) to bucket.
  for (let i = 0; i < 30; i++) rows.push(['W', 0, 99 + i * 0.01, 0.001]);
  const idx = buildIndex(toColumns(ops(rows)), 1, 100);
  const out = new Rects();
  const lay = layoutBand(idx, idx.bands[0], 0, 100, 10, out);
  assert.equal(lay.mode, 'buckets');
  const got = Array.from({ length: out.length }, (_, j) => [KINDS[out.kind[j]], out.x[j], out.w[j]]);
  assert.deepEqual(got, [['F', 0, 1], ['B', 1, 1], ['OPT', 3, 3]]);
  // The send lane has one op: drawn as it is (1 px minimum).
  out.clear();
  assert.equal(layoutBand(idx, idx.bands[1], 0, 100, 10, out).mode, 'ops');
  assert.equal(out.length, 1);
  assert.equal(KINDS[out.kind[0]], 'SEND');
});

test('level of detail: a dense communication lane keeps every column that has any transfer', () => {
  const rows: [string, number, number, number][] = [];
  for (let i = 0; i < 50; i++) rows.push(['RECV', 0, 40 + i * 0.05, 0.01]); // all in column 4
  const idx = buildIndex(toColumns(ops(rows)), 1, 100);
  const out = new Rects();
  assert.equal(layoutBand(idx, idx.bands[2], 0, 100, 10, out).mode, 'buckets');
  assert.deepEqual([out.length, KINDS[out.kind[0]], out.x[0], out.w[0]], [1, 'RECV', 4, 1]);
});

test('sparse windows draw one rectangle per op, at least 1 px wide, with the op index', () => {
  const idx = buildIndex(toColumns(ops([['F', 0, 10, 20], ['B', 0, 40, 0.001], ['F', 0, 500, 5]])), 1);
  const out = new Rects();
  const lay = layoutBand(idx, idx.bands[0], 0, 100, 100, out);
  assert.equal(lay.mode, 'ops');
  assert.equal(lay.visible, 2, 'the op at 500 ms is outside the window');
  assert.deepEqual(Array.from(out.op.subarray(0, out.length)), [0, 1]);
  assert.deepEqual([out.x[0], out.w[0]], [10, 20]);
  assert.equal(out.w[1], 1);
});

test(`the switch to buckets comes above ${MAX_OPS_PER_PX} visible ops per pixel`, () => {
  const make = (n: number) => buildIndex(toColumns(ops(Array.from({ length: n }, (_, i) => ['F', 0, i, 0.5] as [string, number, number, number]))), 1);
  const out = new Rects();
  const small = make(200);
  assert.equal(layoutBand(small, small.bands[0], 0, 200, 100, out).mode, 'ops');
  const big = make(202);
  assert.equal(layoutBand(big, big.bands[0], 0, 202, 100, out).mode, 'buckets');
});

test('hitTest finds the op under the cursor, or the nearest within the tolerance', () => {
  const idx = buildIndex(toColumns(ops([['F', 0, 0, 10], ['B', 0, 20, 5], ['F', 0, 2, 1]])), 1);
  const band = idx.bands[0];
  assert.equal(hitTest(idx, band, 5, 0), 0);
  assert.equal(hitTest(idx, band, 2.5, 0), 0, 'the longest op covering t');
  assert.equal(hitTest(idx, band, 22, 0), 1);
  assert.equal(hitTest(idx, band, 15, 0), -1);
  assert.equal(hitTest(idx, band, 18.5, 2), 1);
  assert.equal(hitTest(idx, band, 40, 1), -1);
});

test('niceTicks steps by 1, 2 or 5 times a power of ten', () => {
  assert.deepEqual(niceTicks(0, 1000, 1000, 80), { step: 100, ticks: [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000] });
  assert.equal(niceTicks(0, 1, 1000, 80).step, 0.1);
  assert.equal(niceTicks(3, 3.0003, 1000, 100).step, 0.00005);
  assert.deepEqual(niceTicks(5, 5, 100), { step: 0, ticks: [] });
});

test('Viewport clamps to the span, zooms around an anchor, pans, and tells listeners only of changes', () => {
  const v = new Viewport();
  let calls = 0;
  v.onChange(() => calls++);
  v.setSpan(1000);
  v.fit();
  assert.deepEqual([v.t0, v.t1], [0, 1000]);
  const before = calls;
  v.fit();
  assert.equal(calls, before, 'no change, no call');
  v.zoom(0.5, 200);
  assert.deepEqual([v.t0, v.t1], [100, 600]);
  v.pan(-500);
  assert.deepEqual([v.t0, v.t1], [0, 500]);
  v.pan(10_000);
  assert.deepEqual([v.t0, v.t1], [500, 1000]);
  v.zoom(10);
  assert.deepEqual([v.t0, v.t1], [0, 1000], 'never wider than the span');
  v.set(10, 10);
  assert.ok(v.t1 - v.t0 >= v.minWindow * (1 - 1e-9), 'never narrower than minWindow');
  v.set(NaN, 5);
  assert.deepEqual([v.t0, v.t1], [0, 1000]);
});

test('firstMeasuredStart: the first non-warm-up step, else the first step, else 0', () => {
  assert.equal(firstMeasuredStart([{ start: 5, warmup: true }, { start: 9, warmup: false }, { start: 14, warmup: false }]), 9);
  assert.equal(firstMeasuredStart([{ start: 5, warmup: true }, { start: 9, warmup: true }]), 5);
  assert.equal(firstMeasuredStart([]), 0);
  assert.equal(firstMeasuredStart(undefined), 0);
});

test('representativeStep: the preferred (typical) step, else the measured step of median duration, padded 2%; warm-up only when nothing was measured', async () => {
  const { representativeStep, clampLabel } = await import('../../media/src/timeline-model');
  const steps = [
    { step: 0, start: 0, end: 300, warmup: true },
    { step: 1, start: 300, end: 400, warmup: true },
    { step: 2, start: 400, end: 510, warmup: false },
    { step: 3, start: 510, end: 600, warmup: false },
    { step: 4, start: 600, end: 700, warmup: false },
  ];
  // Durations 110, 90, 100: the median is step 4's 100 ms; the 300-ms warm-up step is never picked.
  assert.deepEqual(representativeStep(steps), { step: steps[4], t0: 598, t1: 702, among: 3 });
  assert.equal(representativeStep(steps, 3)!.step.step, 3);
  assert.equal(representativeStep(steps, 0)!.step.step, 4, 'a preferred warm-up step is not among the measured ones');
  assert.equal(representativeStep(steps.slice(0, 2))!.step.step, 1, 'only warm-up steps: the median of those (of two, the shorter)');
  assert.equal(representativeStep([]), null);
  // The last axis label is moved left to fit, not cut: centred at 995 with width 40 in [150, 1000] → 980.
  assert.equal(clampLabel(995, 40, 150, 1000), 980);
  assert.equal(clampLabel(500, 40, 150, 1000), 500);
  assert.equal(clampLabel(151, 40, 150, 1000), 170);
});
