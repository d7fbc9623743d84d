// Gradient compression for all-reduce and parameter-server traffic: fp16 by truncation (as Pipe-SGD) and int8 scalar quantization.

import type { Compression } from '../plan/types';

/** A compressed run of floats, ready to post (its buffer can be transferred). */
export interface Packed {
  kind: Compression;
  length: number;
  data: Float32Array | Uint16Array | Int8Array;
  /** int8: the value of one quantization step. */
  scale: number;
}


/**
 * Float32 → binary16 by truncation (Pipe-SGD's: the low mantissa bits are dropped, rounding toward zero), with two
 * 512-entry tables on sign and exponent (van der Zijp's method). Out of range saturates to ±65504; NaN stays NaN.
 */
const BASE = new Uint16Array(512);
const SHIFT = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const e = i - 127;
  let base: number;
  let shift: number;
  if (e < -24) [base, shift] = [0, 24];
  else if (e < -14) [base, shift] = [0x0400 >> (-e - 14), -e - 1];
  else if (e <= 15) [base, shift] = [(e + 15) << 10, 13];
  else if (e < 128) [base, shift] = [0x7bff, 24];
  else [base, shift] = [0x7c00, 13];
  BASE[i] = base;
  BASE[i | 0x100] = base | 0x8000;
  SHIFT[i] = SHIFT[i | 0x100] = shift;
}
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const e = b >>> 23;
  const h = BASE[e] + ((b & 0x7fffff) >>> SHIFT[e]);
  return (e & 0xff) === 0xff && b & 0x7fffff ? h | 0x200 : h; // keep NaN a NaN
}

/** The float a binary16 bit pattern stands for. */
export function fromHalf(h: number): number {
  return HALF[h & 0xffff];
}
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Every binary16 pattern's value, for fast decoding. */
const HALF: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = halfValue(h);
  return t;
})();

/** `x` in the wire form of `kind` (a copy for 'none', so the caller may keep using `x`). */
export function compress(x: Float32Array, kind: Compression): Packed {
  const n = x.length;
  if (kind === 'fp16') {
    const d = new Uint16Array(n);
    const bits = new Uint32Array(x.buffer, x.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      const e = b >>> 23;
      const h = BASE[e] + ((b & 0x7fffff) >>> SHIFT[e]);
      d[i] = (e & 0xff) === 0xff && b & 0x7fffff ? h | 0x200 : h;
    }
    return { kind, length: n, data: d, scale: 1 };
  }
  if (kind === 'int8') {
    let max = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.abs(x[i]);
      if (a > max) max = a;
    }
    const scale = max > 0 && Number.isFinite(max) ? max / 127 : 1;
    const inv = 1 / scale;
    const d = new Int8Array(n);
    for (let i = 0; i < n; i++) d[i] = Math.round(x[i] * inv);
    return { kind, length: n, data: d, scale };
  }
  return { kind: 'none', length: n, data: x.slice(), scale: 1 };
}

/** Decodes `p` into `out` (added to it when `add`). */
export function decompress(p: Packed, out: Float32Array, add: boolean): void {
  const n = p.length;
  if (out.length !== n) throw new Error(`internal: decompress ${n} values into a buffer of ${out.length}`);
  const d = p.data;
  if (p.kind === 'fp16') {
    const t = HALF;
    if (add) for (let i = 0; i < n; i++) out[i] += t[d[i]];
    else for (let i = 0; i < n; i++) out[i] = t[d[i]];
  } else if (p.kind === 'int8') {
    const s = p.scale;
    if (add) for (let i = 0; i < n; i++) out[i] += d[i] * s;
    else for (let i = 0; i < n; i++) out[i] = d[i] * s;
  } else if (add) for (let i = 0; i < n; i++) out[i] += d[i];
  else out.set(d as Float32Array);
}

/** Bytes on the wire for `n` floats. */
export function wireBytes(n: number, kind: Compression): number {
  return kind === 'fp16' ? 2 * n : kind === 'int8' ? n + 4 : 4 * n;
}
