// Text helpers for the webview: every string from a trace passes through label() before it reaches the DOM or a canvas.

/** Longest label shown; longer names are cut with an ellipsis. */
export const LABEL_MAX = 200;

// C0/C1 control characters and the bidirectional overrides/isolates that could reorder what a reader sees.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Any value from a trace or a message as plain display text: stringified, control and bidi-override characters
 * replaced by U+FFFD, whitespace runs collapsed, cut to `max` characters. The result goes into textContent or
 * fillText only, never into HTML.
 */
export function label(value: unknown, max = LABEL_MAX): string {
  let s: string;
  if (value === null || value === undefined) s = '';
  else if (typeof value === 'string') s = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') s = String(value);
  else {
    try {
      s = JSON.stringify(value) ?? '';
    } catch {
      s = Object.prototype.toString.call(value);
    }
  }
  s = s.replace(UNSAFE, '\ufffd').replace(/\s+/g, ' ').trim();
  if (s.length > max) s = `${s.slice(0, Math.max(0, max - 1))}…`;
  return s;
}

/** HTML-escapes text for the few places markup is written as a string (the test harness page); the webview itself never builds HTML from data. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Milliseconds with a precision that suits their size: 0.012 ms, 8.35 ms, 450.0 ms, 12.3 s. */
export function fmtMs(ms: unknown): string {
  if (!finite(ms)) return '–';
  const a = Math.abs(ms);
  if (a >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (a >= 100) return `${ms.toFixed(1)} ms`;
  if (a >= 1) return `${ms.toFixed(2)} ms`;
  if (a === 0) return '0 ms';
  return `${ms.toPrecision(2)} ms`;
}

/** A fraction (0.25) as a percentage ('25.0%'). */
export function fmtPct(f: unknown, digits = 1): string {
  return finite(f) ? `${(f * 100).toFixed(digits)}%` : '–';
}

/** A signed change: '+12.0 ms', '−3.1%' (a real minus sign). */
export function fmtSigned(x: number, unit: string, digits = 1): string {
  if (!Number.isFinite(x)) return '–';
  const v = Math.abs(x).toFixed(digits);
  return `${x > 0 ? '+' : x < 0 ? '−' : '±'}${v}${unit}`;
}

/** Bytes in binary units: 512 B, 1.5 KiB, 73.4 MiB. */
export function fmtBytes(b: unknown): string {
  if (!finite(b) || b < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

/** A plain number with a fixed number of decimals, or '–'. */
export function fmtNum(x: unknown, digits = 1): string {
  return finite(x) ? x.toFixed(digits) : '–';
}
