// Reads a run into a Timeline: a pipeprof trace, or PyTorch profiler rank files streamed (plain or gzip, told apart by magic bytes); every problem is one line naming the file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import type { Timeline } from '../trace/timeline';
import { TraceError, TraceReader, timelineFromTrace } from '../trace/import';
import type { KinetoRank } from '../trace/kineto';
import { KinetoRankReader, isKinetoHeader, timelineFromKineto } from '../trace/kineto';
import { streamTraceEvents, tooDeepAt, tooDeepMessage } from './json-stream';

const gunzip = promisify(zlib.gunzip);
const AGAIN = 'capture it again';

/** Bytes of the file, gunzipped when they start with the gzip magic (whatever the file is called). */
async function readBytes(file: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TraceError(`${file}: trace file not found; check the path, or write one with pipeprof capture --out ${file}`);
    if (code === 'EISDIR') throw new TraceError(`${file}: is a folder, not a trace file; pass the .pptrace.json file inside it`);
    if (code === 'EACCES' || code === 'EPERM') throw new TraceError(`${file}: cannot read the trace file (permission denied); check its permissions`);
    throw new TraceError(`${file}: cannot read the trace file (${code ?? (e as Error).message})`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = await gunzip(buf);
    } catch (e) {
      throw new TraceError(`${file}: gzip data is corrupt (${(e as Error).message}); the file was cut off or damaged; ${AGAIN}`);
    }
  }
  return buf;
}

/** Where JSON.parse stopped, in bytes of the UTF-8 text (messages give UTF-16 positions, or none at the end). */
function parseErrorByte(text: string, message: string): { byte: number; atEnd: boolean } {
  const m = /position (\d+)/.exec(message);
  const pos = m ? Number(m[1]) : /end of JSON input/.test(message) ? text.length : -1;
  if (pos < 0) return { byte: -1, atEnd: false };
  return { byte: Buffer.byteLength(text.slice(0, pos), 'utf8'), atEnd: pos >= text.trimEnd().length };
}

/** The parsed JSON of a trace file; problems name the file and byte. */
export async function readTraceJson(file: string): Promise<unknown> {
  const buf = await readBytes(file);
  let text: string;
  try {
    text = buf.toString('utf8');
  } catch {
    throw new TraceError(`${file}: trace is too large to read as one JSON text (${(buf.length / 2 ** 20).toFixed(0)} MiB); capture fewer steps`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (!text.trim()) throw new TraceError(`${file}: file is empty; the run stopped before writing its trace? ${AGAIN}`);
  const deep = tooDeepAt(buf);
  if (deep >= 0) throw new TraceError(tooDeepMessage(file, deep));
  try {
    return JSON.parse(text);
  } catch (e) {
    const first = /\S/.exec(text.slice(0, 256))?.[0] ?? '';
    if (!'{["-0123456789tfn'.includes(first)) {
      const head = text.trimStart().slice(0, 24).replace(/\s+/g, ' ');
      throw new TraceError(`${file}: not JSON (it starts with ${JSON.stringify(head)}); pass a trace file written by pipeprof capture or simulate`);
    }
    const message = (e as Error).message;
    const { byte, atEnd } = parseErrorByte(text, message);
    if (atEnd || byte < 0) throw new TraceError(`${file}: truncated or invalid JSON at byte ${byte < 0 ? buf.length : byte}; the file was cut off while writing? ${AGAIN}`);
    throw new TraceError(`${file}: truncated or invalid JSON at byte ${byte} (${message.replace(/ in JSON at position \d+$/, '')}); the file is damaged; ${AGAIN}`);
  }
}

/** Whether a file starts with the gzip magic bytes. */
async function isGzip(file: string): Promise<boolean> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch {
    return false; // the reader that follows names the problem
  }
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Files at least this big on disk are streamed (bounded memory: the events are never held as one text or one array). */
export const STREAM_BYTES = 64 * 2 ** 20;

/**
 * Reads a trace file into a Timeline. Throws TraceError (a UsageError: exit code 2 in the CLI) on any problem. Big
 * files stream through TraceReader: memory then grows with the ops kept, not with the JSON text.
 */
export async function readTimeline(file: string, opts: { onProgress?: (read: number, total: number) => void; stream?: boolean } = {}): Promise<Timeline> {
  const size = await fs.promises.stat(file).then((st) => (st.isFile() ? st.size : 0), () => 0);
  // A gzip file always streams: its inflated size, not its size on disk, decides the memory (a small bomb inflates to GBs).
  if (!(opts.stream ?? (size >= STREAM_BYTES || (await isGzip(file))))) return timelineFromTrace(await readTraceJson(file), file);
  const reader = new TraceReader(file);
  const r = await streamTraceEvents(file, (batch) => reader.addEvents(batch), { onProgress: opts.onProgress });
  return reader.finish(r.header);
}

/** Event categories a PyTorch (Kineto) import never looks at: skipped unparsed while streaming (most of a trace's bytes). */
// python_function is read: DeepSpeed's and Megatron's pipeline markers (_exec_forward_pass, forward_step) are python functions.
// cpu_op is read only from a file without GPU activity (a second pass): a CPU-only profile is timed by its CPU ops.
export const KINETO_SKIP = ['cpu_op', 'ac2g', 'fwdbwd', 'Trace', 'cpu_instant_event', 'python_function_call', 'overhead'] as const;

/** The first ~64 KiB of a file's text (gunzipped when it is gzip), for telling formats apart. */
async function head(file: string, bytes = 65536): Promise<string> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch {
    return ''; // the reader that follows names the problem
  }
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    const raw = buf.subarray(0, bytesRead);
    if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
      try {
        return zlib.gunzipSync(raw, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, bytes).toString('utf8');
      } catch {
        return '';
      }
    }
    return raw.toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Whether a file's first text looks like a PyTorch profiler (Kineto) trace: its header keys or its event categories. */
function isKinetoText(text: string): boolean {
  if (/"pipeprof"\s*:/.test(text)) return false;
  return /"(schemaVersion|distributedInfo|deviceProperties|baseTimeNanoseconds)"\s*:/.test(text) || /"cat"\s*:\s*"(cpu_op|kernel|cuda_runtime|python_function|gpu_memcpy|user_annotation)"/.test(text);
}

/** The files a list of inputs names: a folder stands for the PyTorch rank files in it (*.json, *.json.gz; not *.pptrace.json). */
export async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(input);
    } catch {
      out.push(input); // the reader names it: not found
      continue;
    }
    if (!stat.isDirectory()) {
      out.push(input);
      continue;
    }
    const names = (await fs.promises.readdir(input)).filter((n) => /\.json(\.gz)?$/i.test(n) && !/\.pptrace\.json(\.gz)?$/i.test(n)).sort();
    if (!names.length) throw new TraceError(`${input}: folder holds no PyTorch profiler traces (*.json or *.json.gz, one per rank); pass the folder torch.profiler wrote (tensorboard_trace_handler) or the rank files`);
    out.push(...names.map((n) => path.join(input, n)));
  }
  return out;
}

export interface RunRead {
  timeline: Timeline;
  /** One-line problems that did not stop the import (a PyTorch trace's), each naming its file. */
  warnings: string[];
  /** The files read, in order. */
  files: string[];
}

/**
 * A run from one pipeprof trace, or from PyTorch profiler (Kineto) traces: rank files or a folder of them, plain or
 * gzipped, streamed with bounded memory (events the importer does not use are skipped unparsed). `onProgress` gets
 * bytes read of all files on disk so far and their total.
 */
export async function readRun(inputs: string | readonly string[], opts: { onProgress?: (read: number, total: number) => void } = {}): Promise<RunRead> {
  const files = await expandInputs(typeof inputs === 'string' ? [inputs] : inputs);
  const heads = await Promise.all(files.map((f) => head(f)));
  if (files.length === 1 && !isKinetoText(heads[0])) return { timeline: await readTimeline(files[0], { onProgress: opts.onProgress }), warnings: [], files };
  for (const [i, f] of files.entries())
    if (!isKinetoText(heads[i]) && heads[i].includes('"pipeprof"'))
      throw new TraceError(`${f}: is a pipeprof trace, and the other inputs are PyTorch rank files; pass one pipeprof trace, or PyTorch profiler traces only`);
  const sizes = await Promise.all(files.map((f) => fs.promises.stat(f).then((s) => s.size, () => 0)));
  const total = sizes.reduce((a, b) => a + b, 0);
  let before = 0;
  const ranks: KinetoRank[] = [];
  for (const [i, f] of files.entries()) {
    const reader = new KinetoRankReader(f);
    const r = await streamTraceEvents(f, (batch) => reader.addEvents(batch), {
      skipCategories: KINETO_SKIP,
      onProgress: opts.onProgress ? (read) => opts.onProgress!(before + read, total) : undefined,
    });
    if (!isKinetoHeader(r.header))
      throw new TraceError(`${f}: not a PyTorch profiler trace: its top level has no schemaVersion, distributedInfo or deviceProperties (keys: ${Object.keys(r.header).join(', ') || 'none'}); pass a trace written by torch.profiler (export_chrome_trace or tensorboard_trace_handler)`);
    let rank = reader.finish(r.header);
    if (!rank.gpu.length) {
      // No GPU activity: a CPU-only profile, timed by the cpu_op events the first pass skipped (kineto-cpu.ts); read it again with them.
      const again = new KinetoRankReader(f);
      const r2 = await streamTraceEvents(f, (batch) => again.addEvents(batch), { skipCategories: KINETO_SKIP.filter((c) => c !== 'cpu_op') });
      rank = again.finish(r2.header);
    }
    ranks.push(rank);
    before += sizes[i];
  }
  opts.onProgress?.(total, total);
  const { timeline, warnings } = timelineFromKineto(ranks);
  return { timeline, warnings, files };
}
