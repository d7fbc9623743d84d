// HTA parity: Holistic Trace Analysis itself (scripts/hta-breakdown.py) against pipeprof's per-rank breakdown and overlap on real and seeded multi-rank Kineto traces, and HTA's load time against pipeprof's import + report.
import { uniforms } from '../core/model/rng';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readRun } from '../core/io/read-trace';
import { buildReport } from '../core/analysis/report';
import { median } from '../core/analysis/utilization';
import { ppRun } from '../test/fixtures/kineto-pp';
import type { PPRunOptions } from '../test/fixtures/kineto-pp';
import { machine, save, table, args } from './common';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'kineto');
const JOBS = Number(args.get('jobs') ?? 8);
const RUNS = Number(args.get('runs') ?? 3);
const SEED = Number(args.get('seed') ?? Math.floor(Math.random() * 2 ** 31));
const PYTHON = args.get('hta-python') ?? process.env.HTA_PYTHON ?? 'python3';
const GOAL_POINTS = 0.5;
const GOAL_SPEED = 10;

/** The real traces: HTA's own test data (test/fixtures/kineto/README.md); dp128's two ranks are one job. */
const REAL: { name: string; files: string[] }[] = [
  { name: 'alexnet-1gpu', files: ['alexnet-1gpu.json.gz'] },
  { name: 'dp128 (ranks 0, 1)', files: ['dp128-rank0.json.gz', 'dp128-rank1.json.gz'] },
  { name: 'nccl-2rank-rank0', files: ['nccl-2rank-rank0.json.gz'] },
];


type Ev = Record<string, unknown>;
const ENGINES: NonNullable<PPRunOptions['engine']>[] = ['pp', 'gpipe', 'bare', 'deepspeed', 'megatron'];
const ENGINE_NAME: Record<string, string> = { pp: 'torch PP', gpipe: 'torch GPipe', bare: 'torch 1F1B', deepspeed: 'DeepSpeed', megatron: 'Megatron' };

/** One synthetic job: the options drawn, and a description. */
function drawJob(r: () => number): { o: PPRunOptions; about: string } {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const engine = pick(ENGINES);
  const ranks = 2 + Math.floor(r() * 7);
  const replicas = ranks >= 4 && r() < 0.5 ? 2 : 1;
  const stages = Math.max(2, Math.floor(ranks / replicas));
  const schedule: PPRunOptions['schedule'] = engine === 'gpipe' ? 'gpipe' : engine === 'bare' ? '1f1b' : pick(['gpipe', '1f1b']);
  const microbatches = 2 + Math.floor(r() * 7);
  const steps = r() < 0.15 ? 1 : 2 + Math.floor(r() * 3);
  // Unrounded op times (so kernel boundaries fall between whole µs); one stage a straggler.
  const slow = Math.floor(r() * stages);
  const fUs = Array.from({ length: stages }, (_, s) => (300 + r() * 900) * (s === slow ? 1.5 + r() : 1));
  const bUs = fUs.map((f) => f * (1.6 + r() * 0.6));
  const commUs = 15 + r() * 80;
  const o: PPRunOptions = { engine, stages, replicas, schedule, microbatches, steps, fUs, bUs, commUs, firstStep: 1 + Math.floor(r() * 50) };
  return { o, about: `${ENGINE_NAME[engine]} ${stages}×${replicas} ${schedule} M=${microbatches}, ${steps} step${steps > 1 ? 's' : ''}, straggler stage ${slow}` };
}

/**
 * The generator's ranks as the profiler writes them on a GPU: every time in float ns (a sub-µs offset on each start and
 * end, so back-to-back kernels overlap or gap by a fraction of a µs, as in pytorch/pytorch#122425), and a device-to-host
 * memcpy after each optimizer kernel on a third stream, launched by cudaMemcpyAsync.
 */
function profilerShape(ranks: Ev[], r: () => number): Ev[] {
  const ns = (x: number) => Math.round(x * 1000) / 1000;
  return ranks.map((rank) => {
    const events = rank.traceEvents as Ev[];
    let corr = 9_000_000;
    const launches = new Map<unknown, Ev>();
    for (const e of events) if (e.cat === 'cuda_runtime') launches.set((e.args as Ev).correlation, e);
    const extra: Ev[] = [];
    for (const e of events) {
      if (e.cat !== 'kernel' || !String(e.name).includes('multi_tensor_apply')) continue;
      const a = e.args as Ev;
      const launch = launches.get(a.correlation)!;
      const c = corr++;
      extra.push({ ph: 'X', cat: 'cuda_runtime', name: 'cudaMemcpyAsync', pid: launch.pid, tid: launch.tid, ts: (launch.ts as number) + 1, dur: 2, args: { correlation: c, cbid: 41 } });
      extra.push({ ph: 'X', cat: 'gpu_memcpy', name: 'Memcpy DtoH (Device -> Pinned)', pid: e.pid, tid: 13, ts: (e.ts as number) + (e.dur as number) + 2, dur: 6 + r() * 10, args: { device: a.device, context: 1, stream: 13, correlation: c, bytes: 4096, 'memory bandwidth (GB/s)': 1 } });
    }
    for (const e of [...events, ...extra]) {
      if (typeof e.ts !== 'number') continue;
      const end = typeof e.dur === 'number' ? (e.ts as number) + (e.dur as number) + r() * 0.9 : 0;
      e.ts = ns((e.ts as number) + r() * 0.9);
      if (typeof e.dur === 'number') e.dur = ns(Math.max(0, end - (e.ts as number)));
    }
    return { ...rank, traceEvents: [...events, ...extra] };
  });
}

/** A trace object as Kineto lays it out: `"key": value` with a space (HTA finds a file's rank by matching `"rank": N`), one event per line. */
function kinetoText(trace: Ev): string {
  const spaced = (v: unknown) => JSON.stringify(v).replace(/("(?:[^"\\]|\\.)*"):/g, '$1: ');
  const { traceEvents, ...header } = trace;
  const head = Object.entries(header).map(([k, v]) => `  ${JSON.stringify(k)}: ${spaced(v)}`);
  return `{\n${head.join(',\n')},\n  "traceEvents": [\n${(traceEvents as Ev[]).map((e) => `  ${spaced(e)}`).join(',\n')}\n  ]\n}\n`;
}

interface HtaRank { rank: number; idlePct: number; computePct: number; nonComputePct: number; overlapPct: number | null; kernelUs: number }
interface HtaSet { name: string; loadS: number[]; ranks: HtaRank[] }

/** HTA on every set, `RUNS` timed loads each (after one untimed); exits 2 with one line when HTA is not importable. */
function runHta(sets: { name: string; files: string[] }[]): HtaSet[] {
  const driver = path.join(ROOT, 'scripts', 'hta-breakdown.py');
  const r = spawnSync(PYTHON, [driver], { input: JSON.stringify({ sets, runs: RUNS, warmup: 1 }), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status === 2) {
    const why = r.error ? `${PYTHON} did not start (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})` : `Holistic Trace Analysis is not importable by ${PYTHON}`;
    console.error(`hta-parity: ${why}; install it with: pip install HolisticTraceAnalysis (then --hta-python <python> or HTA_PYTHON; PYTHONPATH for a source checkout)`);
    process.exit(2);
  }
  if (r.status !== 0) throw new Error(`internal: ${driver} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { sets: HtaSet[] }).sets;
}

/** pipeprof's import + report of the files, `RUNS` timed runs (after one untimed), and its per-rank rows. */
async function runPipeprof(files: string[]): Promise<{ ms: number[]; ranks: NonNullable<ReturnType<typeof buildReport>['ranks']> }> {
  const once = async () => buildReport((await readRun(files)).timeline);
  const report = await once();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  if (!report.ranks?.length) throw new Error(`internal: no per-rank report for ${files.join(', ')}`);
  return { ms, ranks: report.ranks };
}

const pts = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
const pct = (x: number | null) => (x === null ? '—' : x.toFixed(2));

async function main(): Promise<void> {
  console.log(`seed ${SEED} (rerun with --seed ${SEED}); ${JOBS} synthetic jobs; HTA: ${PYTHON}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeprof-hta-parity-'));
  try {
    const r = uniforms(SEED);
    const sets: { name: string; kind: 'real' | 'synthetic'; about: string; files: string[] }[] = REAL.map((s) => ({
      name: s.name, kind: 'real' as const, about: 'HTA test data', files: s.files.map((f) => path.join(FIXTURES, f)),
    }));
    for (let j = 0; j < JOBS; j++) {
      const { o, about } = drawJob(r);
      const jobDir = path.join(dir, `job${j}`);
      fs.mkdirSync(jobDir);
      const files = profilerShape(ppRun(o).ranks as Ev[], r).map((t) => {
        const f = path.join(jobDir, `rank${(t.distributedInfo as Ev).rank}.pt.trace.json`);
        fs.writeFileSync(f, kinetoText(t));
        return f;
      });
      sets.push({ name: `job ${j}`, kind: 'synthetic', about, files });
    }
    const hta = runHta(sets.map(({ name, files }) => ({ name, files })));

    const rows: (string | number)[][] = [];
    const perRank: Record<string, unknown>[] = [];
    const perSet: Record<string, unknown>[] = [];
    for (const [i, s] of sets.entries()) {
      const h = hta[i];
      const p = await runPipeprof(s.files);
      const htaS = median(h.loadS);
      const ppS = median(p.ms) / 1000;
      const mb = s.files.reduce((a, f) => a + fs.statSync(f).size, 0) / 2 ** 20;
      perSet.push({ name: s.name, kind: s.kind, about: s.about, files: s.files.map((f) => path.relative(ROOT, f)), mib: mb, htaLoadS: h.loadS, pipeprofS: p.ms.map((x) => x / 1000), ratio: htaS / ppS });
      for (const hr of h.ranks) {
        const pr = p.ranks.find((x) => x.rank === hr.rank);
        if (!pr) throw new Error(`internal: ${s.name}: HTA has rank ${hr.rank}, pipeprof ${p.ranks.map((x) => x.rank).join(', ')}`);
        const mine = { idle: 100 * pr.idleFraction, compute: 100 * pr.computeFraction, nonCompute: 100 * pr.nonComputeFraction, overlap: pr.commCompOverlap === null ? null : 100 * pr.commCompOverlap };
        const d = { idle: mine.idle - hr.idlePct, compute: mine.compute - hr.computePct, nonCompute: mine.nonCompute - hr.nonComputePct };
        // HTA's overlap is rounded to 2 decimals; no NCCL kernel: HTA's 0/0 (NaN) against pipeprof's null.
        const dOverlap = hr.overlapPct === null || mine.overlap === null ? (hr.overlapPct === mine.overlap ? 0 : NaN) : mine.overlap - hr.overlapPct;
        const maxAbs = Math.max(Math.abs(d.idle), Math.abs(d.compute), Math.abs(d.nonCompute));
        perRank.push({ set: s.name, kind: s.kind, rank: hr.rank, hta: hr, pipeprof: mine, diffPoints: { ...d, overlap: dOverlap }, maxAbsPoints: maxAbs });
        rows.push([
          s.name, hr.rank,
          `${hr.idlePct.toFixed(2)} / ${hr.computePct.toFixed(2)} / ${hr.nonComputePct.toFixed(2)}`,
          `${mine.idle.toFixed(2)} / ${mine.compute.toFixed(2)} / ${mine.nonCompute.toFixed(2)}`,
          `${pts(d.idle)} / ${pts(d.compute)} / ${pts(d.nonCompute)}`,
          `${pct(hr.overlapPct)} / ${pct(mine.overlap)}`, Number.isNaN(dOverlap) ? 'one side has none' : pts(dOverlap),
          hr.rank === h.ranks[0].rank ? `${(htaS * 1000).toFixed(0)} / ${(ppS * 1000).toFixed(1)} = ${(htaS / ppS).toFixed(1)}×` : '',
        ]);
      }
    }
    const md = table(['trace', 'rank', 'HTA idle / compute / non-compute %', 'pipeprof %', 'difference (points)', 'overlap % HTA / pipeprof', 'overlap diff', 'HTA load ms / pipeprof import + report ms'], rows);
    const maxOf = (kind?: string) => Math.max(0, ...perRank.filter((x) => !kind || x.kind === kind).map((x) => x.maxAbsPoints as number));
    const maxOverlap = Math.max(0, ...perRank.map((x) => Math.abs((x.diffPoints as { overlap: number }).overlap)));
    const ratios = perSet.map((x) => x.ratio as number).sort((a, b) => a - b);
    const summary = [
      `max |difference| ${maxOf().toFixed(3)} points (goal ≤ ${GOAL_POINTS}) over ${perRank.length} ranks of ${sets.length} traces: real ${maxOf('real').toFixed(3)}, synthetic ${maxOf('synthetic').toFixed(3)}; overlap ${Number.isNaN(maxOverlap) ? 'differs in having a figure' : `${maxOverlap.toFixed(3)} points (HTA rounds it to 0.01)`}`,
      `speed: HTA's load ÷ pipeprof's import + report ${ratios[0].toFixed(1)}× min, ${median(ratios).toFixed(1)}× median, ${ratios[ratios.length - 1].toFixed(1)}× max (goal ≥ ${GOAL_SPEED}×)`,
    ];
    const jobs = sets.filter((s) => s.kind === 'synthetic').map((s) => `${s.name}: ${s.about}`).join('; ');
    const about = `HTA ${PYTHON === 'python3' ? '' : `(${path.basename(PYTHON)}) `}TraceAnalysis(trace_files) + get_temporal_breakdown + get_comm_comp_overlap via scripts/hta-breakdown.py against pipeprof's readRun + buildReport on the same files; ` +
      `real: test/fixtures/kineto; synthetic: seed ${SEED}, test/fixtures/kineto-pp.ts ranks in float ns with a memcpy stream (${jobs}); ` +
      `times: median of ${RUNS} runs after one untimed, each side in its own warm process, at nice 19 on ${machine().cpus} cores shared with other work, node ${process.version}`;
    console.log(`${md}\n\n${summary.join('\n')}`);
    save('hta-parity', { machine: machine(), seed: SEED, jobs: JOBS, runs: RUNS, goalPoints: GOAL_POINTS, goalSpeed: GOAL_SPEED, maxAbsPoints: { all: maxOf(), real: maxOf('real'), synthetic: maxOf('synthetic') }, maxOverlapPoints: maxOverlap, ratios, sets: perSet, ranks: perRank },
      `${about}\n\n${md}\n\n${summary.join('\n')}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
