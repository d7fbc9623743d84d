// Replays issue 16's hostile input (test/fuzz/hostile-cases.ts, the issue's full-size gzip bombs, signals) each in a child process; prints case, result, exit code and peak RSS.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { machine, save, table } from './common';
import { CASES, SMALL_CONFIG, checkOutcome, cleanup, interrupt, runInChild } from '../test/fuzz/hostile-cases';
import type { Ctx, HostileCase } from '../test/fuzz/hostile-cases';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'pipeprof.js');

interface Row {
  item: number;
  name: string;
  result: 'clean' | 'NOT CLEAN' | 'skipped';
  code: number | null;
  peakRssBytes: number | null;
  seconds: number;
  detail: string;
}

/** A gzip file of `bytes` of `fill` at level 9 (the bombs: 474 KB of "[", 3.3 MB of spaces, 9.3 MB of spaces). */
async function bomb(file: string, fill: string, bytes: number): Promise<string> {
  const chunk = Buffer.alloc(1 << 20, fill);
  let left = bytes;
  async function* gen() {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      yield chunk.subarray(0, n);
    }
  }
  await pipeline(Readable.from(gen()), zlib.createGzip({ level: 9 }), fs.createWriteStream(file));
  return file;
}

async function main(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeprof-bench-hostile-'));
  const cfg = path.join(base, 'small.json');
  fs.writeFileSync(cfg, JSON.stringify(SMALL_CONFIG));
  const trace = path.join(base, 'B.pptrace.json');
  const cap = spawnSync(process.execPath, [BIN, 'capture', cfg, '--out', trace, '--quiet'], { encoding: 'utf8' });
  if (cap.status !== 0) throw new Error(`bench: the small capture failed: ${cap.stderr}`);
  fs.chmodSync(trace, 0o444);
  const kineto = path.join(ROOT, 'test', 'fixtures', 'kineto', 'nccl-2rank-rank0.json.gz');

  // The issue's own bombs, full size: they go to report like a user's file would.
  const big: HostileCase[] = [
    ['a 474 KB gzip of "[" (14 GB RSS in 119 s before)', '[', 480 * 2 ** 20],
    ['a 3.3 MB gzip of spaces (V8 aborted, rc 133, before)', ' ', 3400 * 2 ** 20],
    ['a 9.3 MB gzip of spaces (4.2 GB, "corrupt" after 47 s, before)', ' ', 9600 * 2 ** 20],
  ].map(([name, fill, bytes], j): HostileCase => ({
    item: 3, name: `report: ${name as string}`, code: 2,
    setup: async (c: Ctx) => ['report', await bomb(path.join(c.dir, `issue-bomb-${j}.json.gz`), fill as string, bytes as number)],
  }));

  const rows: Row[] = [];
  for (const [i, k] of [...CASES, ...big].entries()) {
    const dir = path.join(base, `case-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    const c: Ctx = { dir, trace, kineto };
    const argv = await k.setup(c);
    if (!Array.isArray(argv)) {
      rows.push({ item: k.item, name: k.name, result: 'skipped', code: null, peakRssBytes: null, seconds: 0, detail: argv.skip });
      continue;
    }
    const t0 = performance.now();
    const r = await runInChild(argv, { root: ROOT, heapMiB: k.heapMiB });
    const seconds = (performance.now() - t0) / 1000;
    const problem = checkOutcome(k, r) ?? (await k.check?.(c, r)) ?? null;
    rows.push({ item: k.item, name: k.name, result: problem ? 'NOT CLEAN' : 'clean', code: r.code, peakRssBytes: r.rssBytes, seconds, detail: problem ?? (r.err.split('\n')[0] ?? '').slice(0, 160) });
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.gz')) fs.rmSync(path.join(dir, f), { force: true });
  }
  // Signals to a real capture: the partial trace is kept.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const dir = path.join(base, `signal-${signal}`);
    fs.mkdirSync(dir);
    const out = path.join(dir, 'run.pptrace.json');
    const t0 = performance.now();
    const r = await interrupt(signal, out, BIN);
    let status = 'none';
    try {
      status = JSON.parse(fs.readFileSync(out, 'utf8')).pipeprof.status;
    } catch {
      // no trace written: reported below
    }
    const ok = r.code === 1 && status === 'failed';
    rows.push({ item: 8, name: `${signal} during a capture: the partial trace kept`, result: ok ? 'clean' : 'NOT CLEAN', code: r.code, peakRssBytes: null, seconds: (performance.now() - t0) / 1000, detail: ok ? `trace marked "${status}"` : `trace: ${status}; ${r.err.slice(-200)}` });
  }
  cleanup();
  fs.rmSync(base, { recursive: true, force: true });

  const mib = (b: number | null) => (b === null || Number.isNaN(b) ? '–' : `${(b / 2 ** 20).toFixed(0)} MiB`);
  const md = table(
    ['#', 'item', 'case', 'result', 'exit', 'peak RSS', 's'],
    rows.map((r, i) => [i + 1, r.item, r.name.replace(/\|/g, '/'), r.result, r.code ?? '–', mib(r.peakRssBytes), r.seconds.toFixed(1)]),
  );
  const clean = rows.filter((r) => r.result === 'clean').length;
  const skipped = rows.filter((r) => r.result === 'skipped').length;
  const summary = `${rows.length} cases: ${clean} clean, ${rows.length - clean - skipped} not clean, ${skipped} skipped; peak RSS at most ${mib(Math.max(...rows.map((r) => r.peakRssBytes ?? 0)))}`;
  console.log(`${md}\n\n${summary}`);
  save('hostile', { machine: machine(), summary, rows }, `${md}\n\n${summary}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
