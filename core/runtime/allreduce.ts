// Gradient all-reduce among a stage's replicas: ring (reduce-scatter, then all-gather) or naive gather-to-one, each hop traced.
import type { Packed } from './compress';
import type { Compression, AllReduceAlgo } from '../plan/types';
import { compress, decompress, wireBytes } from './compress';


/** One piece of an all-reduce on the wire between two replicas of a stage. */
export interface ReduceMsg {
  tag: string;
  from: number;
  packed: Packed;
}

/** How a replica reaches the others of its stage. `send` transfers the packed buffer. */
export interface ReduceLink {
  send(to: number, m: ReduceMsg): void;
  take(tag: string, from: number): Promise<ReduceMsg>;
}

export type ReducePhase = 'reduce-scatter' | 'all-gather' | 'gather' | 'broadcast';

/** What the all-reduce reports for the trace: each hop (send to received-and-applied) and each compress/decompress. */
export interface ReduceHooks {
  now(): number;
  hop(e: { phase: ReducePhase; chunk: number; peer: number; bytes: number; startUs: number; endUs: number }): void;
  codec(kind: 'COMPRESS' | 'DECOMPRESS', startUs: number, endUs: number, values: number): void;
}

export interface AllReduceOptions {
  algo: AllReduceAlgo;
  compression: Compression;
  /** Unique per all-reduce in the run (step and bucket): messages of different all-reduces never mix. */
  tag: string;
  link: ReduceLink;
  hooks: ReduceHooks;
}

/** Bounds of chunk c of n values split R ways. */
export function chunkBounds(n: number, R: number, c: number): [number, number] {
  return [Math.floor((c * n) / R), Math.floor(((c + 1) * n) / R)];
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

function pack(x: Float32Array, o: AllReduceOptions): Packed {
  const t0 = o.hooks.now();
  const p = compress(x, o.compression);
  if (o.compression !== 'none') o.hooks.codec('COMPRESS', t0, o.hooks.now(), x.length);
  return p;
}

function unpack(p: Packed, out: Float32Array, add: boolean, o: AllReduceOptions): void {
  const t0 = o.hooks.now();
  decompress(p, out, add);
  if (o.compression !== 'none') o.hooks.codec('DECOMPRESS', t0, o.hooks.now(), out.length);
}

/**
 * Sums `buf` across the R replicas in place; every replica ends with the same values (with compression, every value
 * is the decompressed wire form, on the replica that reduced it too). R = 1 returns at once.
 */
export async function allReduce(buf: Float32Array, me: number, R: number, o: AllReduceOptions): Promise<void> {
  if (R <= 1) return;
  if (o.algo === 'naive') return naive(buf, me, R, o);
  const n = buf.length;
  const right = (me + 1) % R;
  const left = mod(me - 1, R);
  const part = (c: number) => {
    const [a, b] = chunkBounds(n, R, c);
    return buf.subarray(a, b);
  };
  // Reduce-scatter: after R−1 hops, this replica holds the full sum of chunk me+1.
  for (let k = 0; k < R - 1; k++) {
    const sendC = mod(me - k, R);
    const recvC = mod(me - k - 1, R);
    const startUs = o.hooks.now();
    const p = pack(part(sendC), o);
    const bytes = wireBytes(p.length, o.compression);
    o.link.send(right, { tag: `${o.tag}/rs${k}`, from: me, packed: p });
    const m = await o.link.take(`${o.tag}/rs${k}`, left);
    unpack(m.packed, part(recvC), true, o);
    o.hooks.hop({ phase: 'reduce-scatter', chunk: sendC, peer: right, bytes, startUs, endUs: o.hooks.now() });
  }
  // All-gather: pass each reduced chunk around the ring; received pieces are forwarded as they came.
  const own = mod(me + 1, R);
  let out = pack(part(own), o);
  if (o.compression !== 'none') unpack(out, part(own), false, o);
  for (let k = 0; k < R - 1; k++) {
    const sendC = mod(me + 1 - k, R);
    const recvC = mod(me - k, R);
    const startUs = o.hooks.now();
    const bytes = wireBytes(out.length, o.compression);
    o.link.send(right, { tag: `${o.tag}/ag${k}`, from: me, packed: out }); // not read again: `out` becomes what arrives
    const m = await o.link.take(`${o.tag}/ag${k}`, left);
    unpack(m.packed, part(recvC), false, o);
    o.hooks.hop({ phase: 'all-gather', chunk: sendC, peer: right, bytes, startUs, endUs: o.hooks.now() });
    out = m.packed;
  }
}

/** A packed message that can be posted while the original stays readable (posting transfers the buffer). */
function copyPacked(p: Packed): Packed {
  return { ...p, data: p.data.slice() };
}

/** Every replica sends its buffer to replica 0, which sums them in replica order and sends the sum back. */
async function naive(buf: Float32Array, me: number, R: number, o: AllReduceOptions): Promise<void> {
  if (me !== 0) {
    const startUs = o.hooks.now();
    const p = pack(buf, o);
    const bytes = wireBytes(p.length, o.compression);
    o.link.send(0, { tag: `${o.tag}/gather`, from: me, packed: p });
    o.hooks.hop({ phase: 'gather', chunk: -1, peer: 0, bytes, startUs, endUs: o.hooks.now() });
    const b0 = o.hooks.now();
    const m = await o.link.take(`${o.tag}/bcast`, 0);
    unpack(m.packed, buf, false, o);
    o.hooks.hop({ phase: 'broadcast', chunk: -1, peer: 0, bytes: wireBytes(m.packed.length, o.compression), startUs: b0, endUs: o.hooks.now() });
    return;
  }
  for (let r = 1; r < R; r++) {
    const startUs = o.hooks.now();
    const m = await o.link.take(`${o.tag}/gather`, r);
    unpack(m.packed, buf, true, o);
    o.hooks.hop({ phase: 'gather', chunk: -1, peer: r, bytes: wireBytes(m.packed.length, o.compression), startUs, endUs: o.hooks.now() });
  }
  const p = pack(buf, o);
  if (o.compression !== 'none') unpack(p, buf, false, o);
  for (let r = 1; r < R; r++) {
    const startUs = o.hooks.now();
    o.link.send(r, { tag: `${o.tag}/bcast`, from: 0, packed: r < R - 1 ? copyPacked(p) : p });
    o.hooks.hop({ phase: 'broadcast', chunk: -1, peer: r, bytes: wireBytes(p.length, o.compression), startUs, endUs: o.hooks.now() });
  }
}
