// Reads a trace file (plain or gzip, told apart by magic bytes) into a Timeline; every problem is one line naming the file.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import type { Timeline } from '../trace/timeline';
import { TraceError, timelineFromTrace } from '../trace/import';

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

/** Reads a trace file into a Timeline. Throws TraceError (a UsageError: exit code 2 in the CLI) on any problem. */
export async function readTimeline(file: string): Promise<Timeline> {
  return timelineFromTrace(await readTraceJson(file), file);
}
