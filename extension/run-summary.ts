// A trace's one-line summary for the Runs view, read cheaply: the `pipeprof` block from the file's tail, never the events.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { planText } from '../core/config/apply-plan';
import { median } from '../core/analysis/utilization';

const gunzip = promisify(zlib.gunzip);
/** Bytes read from the end of a file to find its `pipeprof` block (a capture writes it last). */
const TAIL_BYTES = 1 << 20;
/** Files up to this size are parsed whole when the block is not in the tail. */
const WHOLE_MAX_BYTES = 64 << 20;

export interface RunSummary {
  file: string;
  name: string;
  status: 'complete' | 'failed' | 'unknown';
  source: 'measured' | 'predicted' | 'unknown';
  /** Median of the measured steps, ms; null when there is none. */
  stepTimeMs: number | null;
  plan: string | null;
  mtimeMs: number;
  /** Why the summary is unknown (unreadable, not a pipeprof trace). */
  problem?: string;
}

type Meta = { status?: unknown; source?: unknown; steps?: unknown; plan?: unknown };

/** The `pipeprof` object at the end of a trace's JSON text, or null when the tail does not end with it. */
export function metaFromTail(tail: string): Meta | null {
  // Candidates from the last `"pipeprof": {` backwards: a layer named "pipeprof" inside the block comes after the real key.
  const starts: number[] = [];
  const re = /"pipeprof"\s*:\s*\{/g;
  for (let m = re.exec(tail); m; m = re.exec(tail)) starts.push(m.index + m[0].length - 1);
  const body = tail.trimEnd();
  if (!body.endsWith('}')) return null;
  for (let i = starts.length - 1; i >= 0; i--) {
    try {
      const meta = JSON.parse(body.slice(starts[i], -1)) as unknown;
      if (meta && typeof meta === 'object' && !Array.isArray(meta)) return meta as Meta;
    } catch {
      // Not the block, or a block that is not last.
    }
  }
  return null;
}

/** Median wall time of the measured steps (all steps when every one is warm-up), ms. */
export function medianStepMs(steps: unknown): number | null {
  if (!Array.isArray(steps)) return null;
  const ok = steps.filter((s): s is { startUs: number; endUs: number; warmup?: boolean } => !!s && typeof s.startUs === 'number' && typeof s.endUs === 'number');
  const measured = ok.filter((s) => !s.warmup);
  const ms = (measured.length ? measured : ok).map((s) => (s.endUs - s.startUs) / 1000);
  return ms.length ? median(ms) : null;
}

function summarize(file: string, mtimeMs: number, meta: Meta | null, problem?: string): RunSummary {
  const p = meta?.plan as { balance?: unknown; microbatches?: unknown; schedule?: unknown; recompute?: unknown } | undefined;
  const plan = p && Array.isArray(p.balance) && typeof p.microbatches === 'number'
    ? planText({ balance: p.balance as number[], microbatches: p.microbatches, schedule: String(p.schedule), recompute: String(p.recompute ?? 'never') })
    : null;
  return {
    file, name: path.basename(file), mtimeMs,
    status: meta ? (meta.status === 'failed' ? 'failed' : 'complete') : 'unknown',
    source: meta ? (meta.source === 'predicted' ? 'predicted' : 'measured') : 'unknown',
    stepTimeMs: meta ? medianStepMs(meta.steps) : null,
    plan,
    ...(problem ? { problem } : meta ? {} : { problem: 'no pipeprof block: not a pipeprof trace' }),
  };
}

/** The summary of a trace file: its tail first; a gzipped or unusual file is read whole when small enough. */
export async function readRunSummary(file: string): Promise<RunSummary> {
  let handle: fs.promises.FileHandle | undefined;
  let mtimeMs = 0;
  try {
    handle = await fs.promises.open(file, 'r');
    const st = await handle.stat();
    mtimeMs = st.mtimeMs;
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0);
    const gz = st.size >= 2 && head[0] === 0x1f && head[1] === 0x8b;
    if (!gz) {
      const n = Math.min(st.size, TAIL_BYTES);
      const tail = Buffer.alloc(n);
      await handle.read(tail, 0, n, st.size - n);
      const meta = metaFromTail(tail.toString('utf8'));
      if (meta) return summarize(file, mtimeMs, meta);
    }
    if (st.size > WHOLE_MAX_BYTES) return summarize(file, mtimeMs, null, `too large to summarize (${(st.size / 2 ** 20).toFixed(0)} MiB); open it to see it`);
    let buf = await fs.promises.readFile(file);
    if (gz) buf = await gunzip(buf);
    const json = JSON.parse(buf.toString('utf8')) as { pipeprof?: Meta };
    return summarize(file, mtimeMs, json && typeof json.pipeprof === 'object' ? json.pipeprof : null);
  } catch (e) {
    return summarize(file, mtimeMs, null, `cannot read: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    await handle?.close();
  }
}

/** The Runs view's description of a run: `450.0 ms · complete`. */
export function describeRun(s: RunSummary): string {
  const parts = [s.stepTimeMs !== null ? `${s.stepTimeMs.toFixed(1)} ms` : null, s.status === 'unknown' ? 'not a pipeprof trace' : s.status, s.source === 'predicted' ? 'predicted' : null];
  return parts.filter((x): x is string => !!x).join(' · ');
}

const TRACE_FILE = /\.pptrace\.json(\.gz)?$/i;

/** The newest trace file (by modification time) directly in `dir`; undefined when there is none. */
export async function newestTrace(dir: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await fs.promises.readdir(dir)).filter((n) => TRACE_FILE.test(n));
  } catch {
    return undefined;
  }
  const stats = await Promise.all(names.map(async (n) => {
    const f = path.join(dir, n);
    return { f, t: await fs.promises.stat(f).then((s) => (s.isFile() ? s.mtimeMs : -1), () => -1) };
  }));
  return stats.filter((s) => s.t >= 0).sort((a, b) => b.t - a.t || b.f.localeCompare(a.f))[0]?.f;
}
