// All-reduce algorithms and gradient codecs, run among R in-process replicas: sums, identical results, bytes per hop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReduceLink, ReduceMsg } from '../../core/runtime/allreduce';
import type { AllReduceAlgo, Compression } from '../../core/plan/types';
import { allReduce, chunkBounds } from '../../core/runtime/allreduce';
import { Mailbox } from '../../core/runtime/mailbox';
import { compress, decompress, fromHalf, toHalf, wireBytes } from '../../core/runtime/compress';

/** R replicas exchanging messages through queues (asynchronously, like MessagePorts). */
function group(R: number): ReduceLink[] {
  const boxes = Array.from({ length: R }, () => new Mailbox<ReduceMsg>());
  return boxes.map((_, me) => ({
    send: (to: number, m: ReduceMsg) => {
      const copy = { ...m, packed: { ...m.packed, data: m.packed.data.slice() } };
      setImmediate(() => boxes[to].put(`${m.tag}|${m.from}`, copy));
    },
    take: (tag: string, from: number) => boxes[me].take(`${tag}|${from}`),
  }));
}

async function reduceAll(R: number, n: number, algo: AllReduceAlgo, compression: Compression) {
  const links = group(R);
  const inputs = Array.from({ length: R }, (_, r) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + r) * (r + 1)));
  const bufs = inputs.map((x) => x.slice());
  const hops: { r: number; phase: string; bytes: number }[][] = Array.from({ length: R }, () => []);
  let codecs = 0;
  await Promise.all(
    bufs.map((buf, r) =>
      allReduce(buf, r, R, {
        algo, compression, tag: 't', link: links[r],
        hooks: { now: () => performance.now() * 1000, hop: (e) => hops[r].push({ r, phase: e.phase, bytes: e.bytes }), codec: () => codecs++ },
      }),
    ),
  );
  const want = Float64Array.from({ length: n }, (_, i) => inputs.reduce((a, x) => a + x[i], 0));
  return { bufs, want, hops, codecs };
}

test('ring and naive all-reduce: every replica ends with the sum, bit-identical across replicas', async () => {
  for (const algo of ['ring', 'naive'] as const)
    for (const R of [2, 3, 5])
      for (const n of [1, 7, 1000]) {
        const { bufs, want } = await reduceAll(R, n, algo, 'none');
        for (let i = 0; i < n; i++) assert.ok(Math.abs(bufs[0][i] - want[i]) < 1e-5 * (1 + Math.abs(want[i])), `${algo} R=${R} n=${n} [${i}]`);
        for (const b of bufs) assert.deepEqual(b, bufs[0]);
      }
});

test('ring: 2(R−1) hops per replica, each carrying one chunk (n/R values); naive: R−1 gathers and broadcasts at replica 0', async () => {
  const { hops } = await reduceAll(4, 1000, 'ring', 'none');
  for (const h of hops) {
    assert.equal(h.filter((x) => x.phase === 'reduce-scatter').length, 3);
    assert.equal(h.filter((x) => x.phase === 'all-gather').length, 3);
    for (const x of h) assert.equal(x.bytes, 250 * 4);
  }
  const naive = await reduceAll(4, 1000, 'naive', 'none');
  assert.equal(naive.hops[0].length, 6);
  assert.ok(naive.hops[0].every((x) => x.bytes === 4000));
  assert.deepEqual(chunkBounds(10, 3, 0), [0, 3]);
  assert.deepEqual(chunkBounds(10, 3, 2), [6, 10]);
});

test('compressed all-reduce: close to the sum, still identical on every replica, codec time reported', async () => {
  for (const [c, tol] of [['fp16', 2e-3], ['int8', 0.1]] as const) {
    const { bufs, want, codecs, hops } = await reduceAll(3, 500, 'ring', c);
    let worst = 0;
    for (let i = 0; i < 500; i++) worst = Math.max(worst, Math.abs(bufs[0][i] - want[i]) / (1 + Math.abs(want[i])));
    assert.ok(worst < tol && worst > 0, `${c}: error ${worst}`);
    for (const b of bufs) assert.deepEqual(b, bufs[0]);
    assert.ok(codecs > 0);
    assert.equal(hops[0][0].bytes, wireBytes(166, c));
  }
});

test('fp16 codec: exact on representable values, truncates the rest toward zero, saturates instead of overflowing', () => {
  for (const v of [0, 1, -2, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, 3 * 2 ** -24, 1 + 2 ** -10, -(1 + 2 ** -10)]) assert.equal(fromHalf(toHalf(v)), v, String(v));
  assert.equal(fromHalf(toHalf(1 + 2 ** -11)), 1);
  assert.equal(fromHalf(toHalf(1 + 3 * 2 ** -11)), 1 + 2 ** -10);
  assert.equal(fromHalf(toHalf(-(1 + 3 * 2 ** -11))), -(1 + 2 ** -10));
  assert.equal(fromHalf(toHalf(Infinity)), Infinity);
  // The array codec and the scalar one agree on every kind of value.
  const xs = Float32Array.from([0, -0, 1e-30, 5e-6, -7.3e-5, 0.1, 1.5, -123.456, 70000, -1e9, NaN]);
  const back = new Float32Array(xs.length);
  decompress(compress(xs, 'fp16'), back, false);
  xs.forEach((v, i) => (Number.isNaN(v) ? assert.ok(Number.isNaN(back[i])) : assert.equal(back[i], fromHalf(toHalf(v)), `${v}`)));
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]) && Math.abs(xs[i]) < 65504) assert.ok(Math.abs(back[i]) <= Math.abs(xs[i]));
  assert.equal(fromHalf(toHalf(1e6)), 65504);
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
  assert.equal(fromHalf(toHalf(1e-9)), 0);
  const x = Float32Array.from([0.1, -3.7, 1234.5]);
  const out = new Float32Array(3);
  decompress(compress(x, 'int8'), out, false);
  x.forEach((v, i) => assert.ok(Math.abs(out[i] - v) <= 1234.5 / 127 / 2 + 1e-6));
  const before = out.slice();
  decompress(compress(x, 'none'), out, true);
  out.forEach((v, i) => assert.equal(v, Math.fround(before[i] + x[i])));
});
