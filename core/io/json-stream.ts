// Streams the events of a huge Chrome-trace/Kineto JSON file (plain or gzip) to a callback in parsed batches, in bounded memory; every problem is one line naming the file.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { TraceError } from '../trace/import';

export interface StreamOptions {
  /** Events whose "cat" is one of these are skipped without being parsed (e.g. ['cpu_op','cuda_runtime','python_function','ac2g']): a cheap textual check of the event's bytes, falling back to a full parse whenever unsure. */
  skipCategories?: readonly string[];
  /** Called now and then (at most ~10×/s) with bytes read of the file on disk (compressed bytes for gzip) and the file size. */
  onProgress?: (readBytes: number, totalBytes: number) => void;
}

export interface StreamResult {
  header: Record<string, unknown>;
  /** Events handed to onEvents. */
  events: number;
  /** Events left out because their "cat" is in skipCategories. */
  skipped: number;
  /** Uncompressed bytes of the JSON text. */
  textBytes: number;
}

/** Knobs for tests and benchmarks, not for callers: bytes per read (and per gunzip output chunk), and bytes of text per JSON.parse. */
export interface StreamTuning {
  chunkBytes?: number;
  batchBytes?: number;
}

const AGAIN = 'capture it again';
const KIND = 'pass a Chrome trace or a PyTorch profiler (Kineto) trace: a JSON object with a "traceEvents" array, plain or gzipped';
const MAX_DEPTH = 1024;
/** The byte where JSON text first nests deeper than MAX_DEPTH (strings skipped), or -1: checked before a whole-text JSON.parse. */
export function tooDeepAt(b: Uint8Array): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/** The nesting limit's message, for the streaming and the whole-text readers alike. */
export const tooDeepMessage = (file: string, at: number): string => `${file}: JSON nested deeper than ${MAX_DEPTH} levels at byte ${at}, and no trace is; the file is damaged or not a trace; ${AGAIN}`;

/** No single event or header value of a real trace comes near this; a bigger one is a damaged file or a bomb, refused before it is held. */
export const MAX_VALUE_BYTES = 128 * 2 ** 20;

/**
 * A problem found in the JSON text; the message is final (file, what, fix). Kept apart from errors thrown by the caller's
 * onEvents. `damage`: the text is broken somewhere inside (rather than not being a trace at all), which in a gzip file
 * the gzip checksum may explain better.
 */
class Fault extends Error {
  constructor(message: string, readonly damage = false) {
    super(message);
  }
}

// Bytes.
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const OPEN_OBJ = 0x7b, CLOSE_OBJ = 0x7d, OPEN_ARR = 0x5b, CLOSE_ARR = 0x5d;
const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** First bytes a JSON value other than an object or array can start with: " - 0-9 t f n. */
const isScalarStart = (c: number) => c === QUOTE || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e;
const typeOf = (c: number) =>
  c === OPEN_OBJ ? 'an object' : c === OPEN_ARR ? 'an array' : c === QUOTE ? 'a string' : c === 0x74 || c === 0x66 ? 'a boolean' : c === 0x6e ? 'null' : 'a number';

/** What containerEnd learnt about the value it scanned. */
interface ValueScan {
  /** Strings spelled exactly "cat" directly inside the object (keys or values). */
  cats: number;
  /** Whether the value holds any backslash escape. */
  escaped: boolean;
  /** Where a bracket did not match its opener (or nesting went too deep), -1 when fine. */
  bad: number;
  stack: Uint8Array;
}

/**
 * End (exclusive) of the object or array opening at b[i], or -1 when it runs past n (or is bad: scan.bad says where).
 * The tight loop of the reader: it tracks strings, escapes and bracket kinds, nothing else.
 */
function containerEnd(b: Uint8Array, i: number, n: number, scan: ValueScan): number {
  const stack = scan.stack;
  let depth = 0;
  let cats = 0;
  let escaped = false;
  while (i < n) {
    const c = b[i++];
    if (c === QUOTE) {
      if (depth === 1 && b[i] === 0x63 && b[i + 1] === 0x61 && b[i + 2] === 0x74 && b[i + 3] === QUOTE) cats++;
      for (;;) {
        if (i >= n) return -1;
        const d = b[i++];
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
    } else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (depth === MAX_DEPTH) {
        scan.bad = i - 1;
        return -1;
      }
      stack[depth++] = c;
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      if (depth === 0 || stack[--depth] !== c - 2) {
        scan.bad = i - 1;
        return -1;
      }
      if (depth === 0) {
        scan.cats = cats;
        scan.escaped = escaped;
        return i;
      }
    }
  }
  return -1;
}

/** End (exclusive) of the string or bare scalar (number, true, false, null) starting at b[i], or -1 when it runs past n. */
function scalarEnd(b: Uint8Array, i: number, n: number): number {
  if (b[i] === QUOTE) {
    for (i++; i < n; ) {
      const d = b[i++];
      if (d === QUOTE) return i;
      if (d === BACKSLASH) i++;
    }
    return -1;
  }
  for (; i < n; i++) {
    const d = b[i];
    if (isWs(d) || d === COMMA || d === CLOSE_ARR || d === CLOSE_OBJ || d === COLON) return i;
  }
  return -1;
}

/**
 * Index in `skip` of the category of the event object b[s, e), read from its leading "key": scalar pairs, or -1 when it is
 * not one of them or unclear (a nested value before "cat", a non-string cat). Only called for events with no escapes and
 * one "cat" string at their top level, so the first "cat" key is the one JSON.parse would keep.
 */
function skippedCategory(b: Uint8Array, s: number, e: number, skip: readonly Uint8Array[]): number {
  let i = s + 1;
  for (let pair = 0; pair < 8; pair++) {
    while (i < e && isWs(b[i])) i++;
    if (b[i] !== QUOTE) return -1;
    const ks = ++i;
    while (b[i] !== QUOTE) i++;
    const isCat = i - ks === 3 && b[ks] === 0x63 && b[ks + 1] === 0x61 && b[ks + 2] === 0x74;
    i++;
    while (i < e && isWs(b[i])) i++;
    if (b[i] !== COLON) return -1;
    i++;
    while (i < e && isWs(b[i])) i++;
    if (isCat) {
      if (b[i] !== QUOTE) return -1;
      const vs = ++i;
      while (b[i] !== QUOTE) i++;
      const len = i - vs;
      next: for (let k = 0; k < skip.length; k++) {
        const want = skip[k];
        if (want.length !== len) continue;
        for (let j = 0; j < len; j++) if (b[vs + j] !== want[j]) continue next;
        return k;
      }
      return -1;
    }
    const c = b[i];
    if (c === QUOTE) {
      i++;
      while (b[i] !== QUOTE) i++;
      i++;
    } else if (c === OPEN_OBJ || c === OPEN_ARR) return -1;
    else while (i < e && !(isWs(b[i]) || b[i] === COMMA || b[i] === CLOSE_OBJ)) i++;
    while (i < e && isWs(b[i])) i++;
    if (b[i] !== COMMA) return -1;
    i++;
  }
  return -1;
}

/** A JSON.parse failure as (UTF-16 position or -1, message without the position or the echoed text). */
function parseFailure(e: unknown): { pos: number; detail: string } {
  const message = e instanceof Error ? e.message : String(e);
  const m = / in JSON at position (\d+)/.exec(message);
  const detail = message.replace(/ in JSON at position \d+.*$/, '').replace(/^(Unexpected token '.+?'), .* is not valid JSON$/s, '$1');
  return { pos: m ? Number(m[1]) : -1, detail };
}

// Where the scanner stands in the top-level grammar.
const enum At {
  Start, KeyOrClose, Key, Colon, Value, CommaOrClose, EventOrClose, Event, EventCommaOrClose, End,
}

/**
 * The reader's pure part: fed the text's bytes chunk by chunk, it finds each element of "traceEvents" by a byte scan,
 * copies runs of kept elements into one array text per batch for the native JSON.parse, and parses every other
 * top-level value whole into `header`. A value cut by a chunk boundary is carried over and scanned again with the next
 * chunk (a long one waits for as many new bytes as it has, so rescans stay linear).
 */
class TraceScanner {
  readonly header: Record<string, unknown> = {};
  events = 0;
  skipped = 0;
  textBytes = 0;
  private at = At.Start;
  private arrayForm = false;
  private sawEvents = false;
  private key = '';
  private eof = false;
  /** Elements of the events array scanned so far (for messages). */
  private scanned = 0;
  /** Text offset of b[0] while run(b) works, and of the carried bytes between runs. */
  private base = 0;
  private carry: Buffer | null = null;
  private waiting: Buffer[] = [];
  private waitingLen = 0;
  /** The batch's array text: '[' then runs of whole elements joined by ','; runOut/runText map its offsets back to the file's. */
  private out: Buffer;
  private outLen = 1;
  private runOut: number[] = [];
  private runText: number[] = [];
  private readonly scan: ValueScan = { cats: 0, escaped: false, bad: -1, stack: new Uint8Array(MAX_DEPTH) };
  private readonly skipBytes: Uint8Array[];
  private readonly skipSet: Set<unknown> | null;

  constructor(
    private readonly file: string,
    private readonly onEvents: (batch: unknown[]) => void,
    skipCategories: readonly string[],
    private readonly batchBytes: number,
  ) {
    this.skipBytes = skipCategories.map((c) => Buffer.from(c, 'utf8'));
    this.skipSet = skipCategories.length ? new Set(skipCategories) : null;
    this.out = Buffer.allocUnsafe(batchBytes + 4096);
    this.out[0] = OPEN_ARR;
  }

  /** Feeds the next bytes of the text. */
  push(chunk: Buffer): void {
    this.textBytes += chunk.length;
    if (!this.carry) return this.consume(chunk);
    this.waiting.push(chunk);
    this.waitingLen += chunk.length;
    if (this.carry.length + this.waitingLen > MAX_VALUE_BYTES)
      throw new Fault(`${this.file}: one JSON value at byte ${this.base} is over ${MAX_VALUE_BYTES / 2 ** 20} MiB long, and no trace event or header field is; the file is damaged or not a trace; ${AGAIN}`);
    if (this.waitingLen < this.carry.length) return;
    const b = Buffer.concat([this.carry, ...this.waiting]);
    this.waiting = [];
    this.waitingLen = 0;
    this.consume(b);
  }

  /** The text has ended: checks that it was one whole trace. */
  end(): void {
    this.eof = true;
    if (this.carry) {
      const b = Buffer.concat([this.carry, ...this.waiting]);
      this.waiting = [];
      this.consume(b);
    }
    if (this.at === At.End && !this.carry) {
      if (!this.sawEvents) {
        const keys = Object.keys(this.header);
        const shown = keys.length ? `its top-level keys: ${keys.slice(0, 8).map((k) => JSON.stringify(k)).join(', ')}${keys.length > 8 ? ', …' : ''}` : 'an empty object';
        throw new Fault(`${this.file}: not a Chrome/Kineto trace: no traceEvents array (${shown}); ${KIND}`);
      }
      return;
    }
    if (this.at === At.Start) throw new Fault(`${this.file}: file is empty; the run stopped before writing its trace? ${AGAIN}`);
    const where =
      this.at >= At.EventOrClose && this.at <= At.EventCommaOrClose ? `the ${this.arrayForm ? 'top-level array' : 'traceEvents array'} (after ${this.scanned} events)`
      : this.at === At.Value ? `the value of "${this.key}"`
      : 'the top-level object';
    throw new Fault(`${this.file}: truncated at byte ${this.textBytes}: the JSON text ends inside ${where}; the file was cut off while writing? ${AGAIN}`);
  }

  private consume(b: Buffer): void {
    const k = this.run(b);
    this.base += k;
    this.carry = k < b.length ? b.subarray(k) : null;
  }

  private invalid(at: number, detail: string): Fault {
    return new Fault(`${this.file}: invalid JSON at byte ${at} (${detail}); the file is damaged; ${AGAIN}`, true);
  }

  /** JSON.parse refused the value `what` at text offset `start`, whose text is `text`: the exact byte when its message gives one. */
  private refused(x: unknown, start: number, text: string, what: string): Fault {
    const { pos, detail } = parseFailure(x);
    if (pos < 0) return new Fault(`${this.file}: invalid JSON in ${what} at byte ${start} (${detail}); the file is damaged; ${AGAIN}`, true);
    return this.invalid(start + Buffer.byteLength(text.slice(0, pos)), `${detail}, in ${what} at byte ${start}`);
  }

  private shown(b: Buffer, i: number): string {
    return b[i] === undefined ? 'the end' : JSON.stringify(b.toString('utf8', i, i + 4).slice(0, 1));
  }

  /** A scan that stopped at scan.bad: a bracket that closes the wrong opener, or nesting deeper than MAX_DEPTH. */
  private badBracket(b: Buffer): Fault {
    const at = this.scan.bad;
    this.scan.bad = -1;
    const c = b[at];
    if (c === OPEN_OBJ || c === OPEN_ARR) return new Fault(tooDeepMessage(this.file, this.base + at));
    return this.invalid(this.base + at, `unmatched ${this.shown(b, at)}`);
  }

  /** End of the value starting at b[i], or -1 when it needs more bytes; throws on a byte no value starts with. */
  private valueEnd(b: Buffer, i: number, n: number, what: string): number {
    const c = b[i];
    if (c === OPEN_OBJ || c === OPEN_ARR) {
      const e = containerEnd(b, i, n, this.scan);
      if (e < 0 && this.scan.bad >= 0) throw this.badBracket(b);
      return e;
    }
    if (!isScalarStart(c)) throw this.invalid(this.base + i, `expected ${what}, got ${this.shown(b, i)}`);
    return scalarEnd(b, i, n);
  }

  /** Scans b from 0; returns where the unconsumed bytes (to carry over) begin. */
  private run(b: Buffer): number {
    const n = b.length;
    let i = 0;
    for (;;) {
      if (this.at >= At.EventOrClose && this.at <= At.EventCommaOrClose) {
        i = this.scanEvents(b, i, n);
        if (this.at >= At.EventOrClose && this.at <= At.EventCommaOrClose) return i;
      }
      let c = 0;
      while (i < n && isWs((c = b[i]))) i++;
      if (i >= n) return n;
      switch (this.at) {
        case At.Start: {
          if (c === 0xef && this.base + i === 0) {
            if (n - i < 3 && !this.eof) return i;
            if (b[i + 1] === 0xbb && b[i + 2] === 0xbf) {
              i += 3; // a UTF-8 byte order mark
              continue;
            }
          }
          if (c === OPEN_OBJ) this.at = At.KeyOrClose;
          else if (c === OPEN_ARR) {
            this.at = At.EventOrClose;
            this.arrayForm = this.sawEvents = true;
          } else if (isScalarStart(c)) throw new Fault(`${this.file}: not a Chrome/Kineto trace: no traceEvents array (the file holds ${typeOf(c)}); ${KIND}`);
          else {
            if (n - i < 24 && !this.eof) return i;
            const head = b.toString('utf8', i, i + 24).replace(/\s+/g, ' ');
            throw new Fault(`${this.file}: not JSON (it starts with ${JSON.stringify(head)}); ${KIND}`);
          }
          i++;
          continue;
        }
        case At.KeyOrClose:
        case At.Key: {
          if (c === CLOSE_OBJ && this.at === At.KeyOrClose) {
            this.at = At.End;
            i++;
            continue;
          }
          if (c !== QUOTE) throw this.invalid(this.base + i, `expected a "key" of the top-level object, got ${this.shown(b, i)}`);
          const e = scalarEnd(b, i, n);
          if (e < 0) return i;
          const text = b.toString('utf8', i, e);
          try {
            this.key = JSON.parse(text) as string;
          } catch (x) {
            throw this.refused(x, this.base + i, text, 'a top-level key');
          }
          this.at = At.Colon;
          i = e;
          continue;
        }
        case At.Colon:
          if (c !== COLON) throw this.invalid(this.base + i, `expected ':' after the key ${JSON.stringify(this.key)}, got ${this.shown(b, i)}`);
          this.at = At.Value;
          i++;
          continue;
        case At.Value: {
          if (this.key === 'traceEvents') {
            if (this.sawEvents) throw this.invalid(this.base + i, 'a second "traceEvents" key in the top-level object');
            if (c !== OPEN_ARR) {
              if (!isScalarStart(c) && c !== OPEN_OBJ) throw this.invalid(this.base + i, `expected a value after "traceEvents":, got ${this.shown(b, i)}`);
              throw new Fault(`${this.file}: not a Chrome/Kineto trace: "traceEvents" is not an array (it holds ${typeOf(c)}); ${KIND}`);
            }
            this.at = At.EventOrClose;
            this.sawEvents = true;
            i++;
            continue;
          }
          const e = this.valueEnd(b, i, n, `a value for ${JSON.stringify(this.key)}`);
          if (e < 0) return i;
          const text = b.toString('utf8', i, e);
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch (x) {
            throw this.refused(x, this.base + i, text, `the value of ${JSON.stringify(this.key)}`);
          }
          Object.defineProperty(this.header, this.key, { value, enumerable: true, writable: true, configurable: true }); // "__proto__" too, as JSON.parse does
          this.at = At.CommaOrClose;
          i = e;
          continue;
        }
        case At.CommaOrClose:
          if (c === COMMA) this.at = At.Key;
          else if (c === CLOSE_OBJ) this.at = At.End;
          else throw this.invalid(this.base + i, `expected ',' or '}' after the value of ${JSON.stringify(this.key)}, got ${this.shown(b, i)}`);
          i++;
          continue;
        case At.End:
          throw this.invalid(this.base + i, `unexpected ${this.shown(b, i)} after the end of the JSON text`);
      }
    }
  }

  /**
   * The hot part: elements of the events array from b[i] on, until its ']' or the end of b. Runs of kept elements are copied
   * (separators included) into the batch text; a batch goes to JSON.parse once it holds batchBytes.
   */
  private scanEvents(b: Buffer, i: number, n: number): number {
    const skip = this.skipBytes.length > 0;
    const skipBytes = this.skipBytes;
    const scan = this.scan;
    let at = this.at;
    let runStart = -1;
    let runEnd = -1;
    for (;;) {
      let c = 0;
      while (i < n && isWs((c = b[i]))) i++;
      if (i >= n) break;
      if (at === At.EventCommaOrClose || (at === At.EventOrClose && c === CLOSE_ARR)) {
        if (c === COMMA) {
          at = At.Event;
          i++;
          continue;
        }
        if (c === CLOSE_ARR) {
          if (runStart >= 0) this.append(b, runStart, runEnd);
          this.flush();
          this.at = this.arrayForm ? At.End : At.CommaOrClose;
          this.key = 'traceEvents';
          return i + 1;
        }
        throw this.invalid(this.base + i, `expected ',' or ']' after an event, got ${this.shown(b, i)}`);
      }
      let e: number;
      if (c === OPEN_OBJ) {
        e = containerEnd(b, i, n, scan);
        if (e < 0) {
          if (scan.bad >= 0) throw this.badBracket(b);
          break;
        }
        if (skip && !scan.escaped && scan.cats === 1 && skippedCategory(b, i, e, skipBytes) >= 0) {
          if (runStart >= 0) {
            this.append(b, runStart, runEnd);
            runStart = -1;
          }
          this.skipped++;
          this.scanned++;
          at = At.EventCommaOrClose;
          i = e;
          continue;
        }
      } else {
        if (c === CLOSE_ARR) throw this.invalid(this.base + i, "expected an event after ',', got ']'");
        e = this.valueEnd(b, i, n, 'an event');
        if (e < 0) break;
      }
      if (runStart < 0) runStart = i;
      runEnd = e;
      this.scanned++;
      if (this.outLen + (e - runStart) >= this.batchBytes) {
        this.append(b, runStart, runEnd);
        runStart = -1;
        this.flush();
      }
      at = At.EventCommaOrClose;
      i = e;
    }
    if (runStart >= 0) this.append(b, runStart, runEnd);
    this.at = at;
    return i;
  }

  /** Copies the whole elements b[s, e) (with their separators) into the batch text. */
  private append(b: Buffer, s: number, e: number): void {
    const need = this.outLen + (e - s) + 2;
    if (need > this.out.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.out.length));
      this.out.copy(grown, 0, 0, this.outLen);
      this.out = grown;
    }
    if (this.outLen > 1) this.out[this.outLen++] = COMMA;
    this.runOut.push(this.outLen);
    this.runText.push(this.base + s);
    b.copy(this.out, this.outLen, s, e);
    this.outLen += e - s;
  }

  /** Parses the batch text natively, drops events of skipped categories that the byte check left to it, and hands the rest on. */
  private flush(): void {
    if (this.outLen <= 1) return;
    this.out[this.outLen++] = CLOSE_ARR;
    let batch: unknown[];
    try {
      batch = JSON.parse(this.out.toString('utf8', 0, this.outLen)) as unknown[];
    } catch (x) {
      throw this.locate(x);
    }
    this.outLen = 1;
    this.runOut = [];
    this.runText = [];
    const set = this.skipSet;
    if (set) {
      let k = 0;
      for (const ev of batch) if (!(typeof ev === 'object' && ev !== null && set.has((ev as { cat?: unknown }).cat))) batch[k++] = ev;
      this.skipped += batch.length - k;
      batch.length = k;
    }
    this.events += batch.length;
    if (batch.length) this.onEvents(batch);
  }

  /** The batch failed to parse: parses its elements one by one to name the byte of the first fault in the file. */
  private locate(whole: unknown): Fault {
    const out = this.out;
    const n = this.outLen - 1;
    const textAt = (o: number) => {
      let r = this.runOut.length - 1;
      while (r > 0 && this.runOut[r] > o) r--;
      return this.runText[r] + (o - this.runOut[r]);
    };
    for (let i = 1; i < n; ) {
      while (i < n && (isWs(out[i]) || out[i] === COMMA)) i++;
      if (i >= n) break;
      const e = out[i] === OPEN_OBJ || out[i] === OPEN_ARR ? containerEnd(out, i, n, this.scan) : scalarEnd(out, i, n);
      const text = out.toString('utf8', i, e < 0 ? n : e);
      try {
        JSON.parse(text);
      } catch (x) {
        return this.refused(x, textAt(i), text, 'the event');
      }
      if (e < 0) break;
      i = e;
    }
    return this.invalid(textAt(1), parseFailure(whole).detail);
  }
}

function readError(file: string, e: unknown): TraceError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new TraceError(`${file}: trace file not found; check the path`);
  if (code === 'EISDIR') return new TraceError(`${file}: is a folder, not a trace file; pass the trace .json or .json.gz file inside it`);
  if (code === 'EACCES' || code === 'EPERM') return new TraceError(`${file}: cannot read the trace file (permission denied); check its permissions`);
  return new TraceError(`${file}: cannot read the trace file (${code ?? (e as Error).message})`);
}

/** A failure of the byte source: the gunzip stream (Z_* codes) or the file read. */
function sourceError(file: string, e: unknown, gz: boolean): TraceError {
  const code = (e as NodeJS.ErrnoException).code;
  if (gz && typeof code === 'string' && code.startsWith('Z_'))
    return new TraceError(`${file}: gzip data is corrupt (${(e as Error).message}); the file was cut off or damaged; ${AGAIN}`);
  return readError(file, e);
}

/**
 * Streams the elements of the top-level "traceEvents" array to onEvents in batches (file order); every other top-level
 * key is parsed whole into `header`. A top-level array of events is read as the events (header {}). Plain or gzip
 * (told apart by the magic bytes). Memory stays near a few batches whatever the file size. Throws TraceError (exit code 2
 * in the CLI) for any problem with the file, always with the file closed; errors thrown by onEvents pass through. Batches
 * handed on before a problem is found stay handed on: a caller that keeps them should drop them when this throws.
 */
export async function streamTraceEvents(
  file: string,
  onEvents: (batch: unknown[]) => void,
  opts: StreamOptions = {},
  tuning: StreamTuning = {},
): Promise<StreamResult> {
  const chunkBytes = tuning.chunkBytes ?? 1 << 20;
  const scanner = new TraceScanner(file, onEvents, opts.skipCategories ?? [], tuning.batchBytes ?? 2 << 20);
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (e) {
    throw readError(file, e);
  }
  let input: fs.ReadStream | null = null;
  let gunzip: Readable | null = null;
  try {
    let total: number;
    let gz: boolean;
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
      total = st.size;
      const magic = Buffer.alloc(2);
      const { bytesRead } = await handle.read(magic, 0, 2, 0);
      gz = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    } catch (e) {
      throw readError(file, e);
    }
    const stream = handle.createReadStream({ start: 0, highWaterMark: chunkBytes });
    input = stream;
    const source = gz ? (gunzip = pipeline(stream, zlib.createGunzip({ chunkSize: Math.max(64, chunkBytes) }), () => {})) : stream;
    const chunks = source[Symbol.asyncIterator]();
    let fault: Fault | null = null;
    let shown = performance.now();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (e) {
        throw sourceError(file, e, gz);
      }
      if (next.done) break;
      if (fault) continue; // gzip: read on to its checksum, which names damage better than the JSON it garbled
      try {
        scanner.push(next.value);
      } catch (e) {
        if (!(e instanceof Fault)) throw e;
        if (!gz || !e.damage) throw new TraceError(e.message);
        fault = e;
      }
      if (opts.onProgress && performance.now() - shown >= 100) {
        shown = performance.now();
        opts.onProgress(stream.bytesRead, total);
      }
    }
    if (fault) throw new TraceError(fault.message);
    try {
      scanner.end();
    } catch (e) {
      throw e instanceof Fault ? new TraceError(e.message) : e;
    }
    opts.onProgress?.(stream.bytesRead, total);
    return { header: scanner.header, events: scanner.events, skipped: scanner.skipped, textBytes: scanner.textBytes };
  } finally {
    // The read stream closes the handle when it ends or is destroyed; wait for that, so no descriptor outlives the call.
    gunzip?.destroy();
    if (input && !input.closed) {
      const closed = new Promise<void>((resolve) => input!.once('close', () => resolve())); // not once(): that rejects on the stream's 'error'
      input.destroy();
      await closed;
    }
    await handle.close();
  }
}
