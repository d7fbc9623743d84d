// Kineto import: a synthetic multi-hundred-MB Kineto trace, bare JSON.parse against streamTraceEvents (all events, and skipping host-side categories): speed and peak memory.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { streamTraceEvents } from '../core/io/json-stream';
import { readRun } from '../core/io/read-trace';
import { buildReport } from '../core/analysis/report';
import { median } from '../core/analysis/utilization';
import { machine, save, table, args } from './common';

const MB = Number(args.get('mb') ?? 400);
const ROUNDS = Number(args.get('rounds') ?? 3);
const SOURCE = args.get('source') ?? path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'kineto', 'nccl-2rank-rank0.json.gz');
const SKIP = ['cpu_op', 'cuda_runtime', 'python_function', 'ac2g', 'fwdbwd', 'Trace'];
/** --keep leaves the trace file in the temporary folder (for profiling). */

type Mode = 'idle' | 'parse' | 'stream' | 'skip' | 'gzip' | 'report';
const MODES: { mode: Exclude<Mode, 'idle'>; name: string }[] = [
  { mode: 'parse', name: '(a) readFile + toString + JSON.parse' },
  { mode: 'stream', name: '(b) streamTraceEvents' },
  { mode: 'skip', name: `(c) streamTraceEvents, skipCategories ${SKIP.join(',')}` },
  { mode: 'gzip', name: '(d) streamTraceEvents of the same text gzipped' },
  { mode: 'report', name: '(e) import + report: readRun (stream, Kineto importer, one clock) + buildReport (HTA breakdown per rank)' },
];
interface Measure { ms: number; maxRssBytes: number; events: number; skipped: number }

/**
 * Writes a Kineto-shaped trace of about `mb` MB: the real header and events of `source`, its events text repeated as
 * written (Kineto's own layout and whitespace) with "ts" shifted by 10 s per copy.
 */
function writeSyntheticTrace(source: string, file: string, mb: number): { bytes: number; events: number; skippable: number } {
  const text = zlib.gunzipSync(fs.readFileSync(source)).toString('utf8');
  const open = text.indexOf('[', text.indexOf('"traceEvents"')) + 1;
  const close = text.lastIndexOf(']', text.indexOf('"INFO"') >= 0 ? text.indexOf('"INFO"') : text.length - 1);
  const body = text.slice(open, close).trim();
  const events = JSON.parse(`[${body}]`) as { cat?: string }[];
  if (events.length !== (JSON.parse(text) as { traceEvents: unknown[] }).traceEvents.length)
    throw new Error(`internal: could not cut the traceEvents text out of ${source}`);
  const copies = Math.max(1, Math.ceil((mb * 1e6) / Buffer.byteLength(body)));
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, `${text.slice(0, open)}\n`);
    for (let c = 0; c < copies; c++) {
      const shifted = c === 0 ? body : body.replace(/"ts": (-?\d+(?:\.\d+)?)/g, (_, ts: string) => `"ts": ${(Number(ts) + c * 1e7).toFixed(3)}`);
      fs.writeSync(fd, c ? `,\n${shifted}` : shifted);
    }
    fs.writeSync(fd, `\n${text.slice(close)}`);
  } finally {
    fs.closeSync(fd);
  }
  const skippable = events.filter((e) => SKIP.includes(e.cat as string)).length;
  return { bytes: fs.statSync(file).size, events: events.length * copies, skippable: skippable * copies };
}

/** One measurement in this (fresh) process: prints its time, peak RSS and counts as JSON. */
async function child(mode: Mode, file: string): Promise<void> {
  let events = 0;
  let skipped = 0;
  const t0 = performance.now();
  if (mode === 'parse') {
    const trace = JSON.parse(fs.readFileSync(file).toString('utf8')) as { traceEvents: unknown[] };
    events = trace.traceEvents.length;
  } else if (mode === 'report') {
    const { timeline } = await readRun(file);
    const report = buildReport(timeline);
    events = timeline.kernels?.length ?? timeline.ops.length;
    if (!report.ranks?.length) throw new Error('internal: no per-rank report');
  } else if (mode !== 'idle') {
    const r = await streamTraceEvents(mode === 'gzip' ? `${file}.gz` : file, (batch) => void (events += batch.length), mode === 'skip' ? { skipCategories: SKIP } : {});
    skipped = r.skipped;
  }
  const ms = performance.now() - t0;
  const out: Measure = { ms, maxRssBytes: process.resourceUsage().maxRSS * 1024, events, skipped };
  process.stdout.write(JSON.stringify(out));
}

function measure(mode: Mode, file: string): Measure {
  const r = spawnSync(process.execPath, [__filename, `--child=${mode}`, `--file=${file}`], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`internal: the ${mode} run failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Measure;
}

const mib = (bytes: number) => bytes / 2 ** 20;

async function main(): Promise<void> {
  const file = path.join(os.tmpdir(), `pipeprof-bench-kineto-${process.pid}.json`);
  const w0 = performance.now();
  try {
    const made = writeSyntheticTrace(SOURCE, file, MB);
    await pipeline(fs.createReadStream(file), zlib.createGzip(), fs.createWriteStream(`${file}.gz`));
    const gzBytes = fs.statSync(`${file}.gz`).size;
    process.stderr.write(`wrote ${made.events.toLocaleString('en-US')} events, ${mib(made.bytes).toFixed(0)} MiB (gzipped ${mib(gzBytes).toFixed(0)} MiB) in ${((performance.now() - w0) / 1000).toFixed(1)} s\n`);
    const idle = Array.from({ length: ROUNDS }, () => measure('idle', file).maxRssBytes);
    const base = median(idle);
    const runs = new Map<Mode, Measure[]>(MODES.map((m) => [m.mode, []]));
    // A fresh process per measurement (so peak RSS is its own), rotating which side goes first so the machine's drift lands on all.
    for (let r = 0; r < ROUNDS; r++)
      for (let k = 0; k < MODES.length; k++) {
        const { mode } = MODES[(k + r) % MODES.length];
        const m = measure(mode, file);
        runs.get(mode)!.push(m);
        process.stderr.write(`round ${r + 1} ${mode}: ${(m.ms / 1000).toFixed(2)} s, peak RSS ${mib(m.maxRssBytes).toFixed(0)} MiB\n`);
      }
    for (const m of [...runs.get('parse')!, ...runs.get('stream')!, ...runs.get('gzip')!])
      if (m.events !== made.events) throw new Error(`internal: ${m.events} events read, the file has ${made.events}`);
    for (const m of runs.get('skip')!)
      if (m.skipped !== made.skippable || m.events !== made.events - made.skippable) throw new Error(`internal: skipped ${m.skipped} of ${made.skippable}`);

    const parseMs = median(runs.get('parse')!.map((m) => m.ms));
    const results = MODES.map(({ mode, name }) => {
      const ms = median(runs.get(mode)!.map((m) => m.ms));
      const peak = median(runs.get(mode)!.map((m) => m.maxRssBytes)) - base;
      return { mode, name, ms, mibPerS: mib(made.bytes) / (ms / 1000), timeRatio: ms / parseMs, peakBytes: peak, peakRatio: peak / made.bytes, samplesMs: runs.get(mode)!.map((m) => m.ms) };
    });
    const md = table(
      ['reader', 'time (s)', 'MiB/s', 'time / (a)', 'peak RSS − idle (MiB)', 'peak / file size'],
      results.map((x) => [x.name, (x.ms / 1000).toFixed(2), x.mibPerS.toFixed(0), `${x.timeRatio.toFixed(2)}×`, mib(x.peakBytes).toFixed(0), `${x.peakRatio.toFixed(2)}×`]),
    );
    console.log(md);
    const about = `synthetic Kineto trace: the events of ${path.basename(SOURCE)} repeated with shifted timestamps, ${made.events.toLocaleString('en-US')} events, ` +
      `${mib(made.bytes).toFixed(0)} MiB uncompressed (${mib(gzBytes).toFixed(0)} MiB gzipped: the copies compress far better than one real trace); MiB/s and peak / file size are of the uncompressed text; median of ${ROUNDS} rotating rounds, each a fresh node process; peak RSS is maxRSS minus an idle node's ` +
      `(${mib(base).toFixed(0)} MiB); ${machine().cpus} cores shared with other work, node ${process.version}`;
    save('kineto-import', { machine: machine(), source: path.basename(SOURCE), bytes: made.bytes, gzipBytes: gzBytes, events: made.events, skippable: made.skippable, rounds: ROUNDS, idleRssBytes: idle, skipCategories: SKIP, results }, `${about}\n\n${md}`);
  } finally {
    if (args.has('keep')) process.stderr.write(`kept ${file} and ${file}.gz\n`);
    else for (const f of [file, `${file}.gz`]) fs.rmSync(f, { force: true });
  }
}

const role = args.get('child') as Mode | undefined;
(role ? child(role, args.get('file')!) : main()).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
