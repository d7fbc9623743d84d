// Analysis speed: a synthetic 1,000,000-event trace, bare JSON.parse of its text against readTimeline + buildReport.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSchedule } from '../core/schedule';
import type { Plan } from '../core/plan/types';
import type { StepRecord, TraceEvent, TraceMeta } from '../core/trace/schema';
import { TRACE_VERSION } from '../core/trace/schema';
import { stageProcessName } from '../core/trace/chrome';
import { flowId } from '../core/trace/recorder';
import { readTimeline } from '../core/io/read-trace';
import { buildReport } from '../core/analysis/report';
import { machine, save, table, args } from './common';

const EVENTS = Number(args.get('events') ?? 1_000_000);
const ROUNDS = Number(args.get('rounds') ?? 3);
/** --keep leaves the trace file in the temporary folder (for profiling). */

/** A seeded jitter in [0.9, 1.1), so op times vary like measured ones. */
function jitter(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return 0.9 + ((x >>> 0) / 2 ** 32) * 0.2;
  };
}

/**
 * Writes a trace shaped like a capture's (same events, lanes, flows, counters, metadata), timed by a tiny list scheduler
 * over the real 1F1B schedule: 4 stages, 8 micro-batches, as many steps as it takes to reach `target` events.
 */
function writeSyntheticTrace(file: string, target: number): { events: number; steps: number; bytes: number } {
  const plan: Plan = { balance: [2, 2, 2, 2], microbatches: 8, schedule: '1f1b', recompute: 'never', replicas: 1 };
  const S = plan.balance.length;
  const M = plan.microbatches;
  const schedule = buildSchedule(plan);
  const rand = jitter(7);
  const fd = fs.openSync(file, 'w');
  let count = 0;
  let pending: string[] = [];
  const emit = (e: TraceEvent) => {
    pending.push(JSON.stringify(e));
    count++;
  };
  const flush = (last = false) => {
    if (!pending.length) return;
    fs.writeSync(fd, pending.join(',') + (last ? '' : ','));
    pending = [];
  };
  fs.writeSync(fd, '{"traceEvents":[');
  let first = 0;
  plan.balance.forEach((n, s) => {
    emit({ ph: 'M', pid: s, name: 'process_name', args: { name: stageProcessName(s, first, n) } });
    ['compute', 'send', 'recv', 'all-reduce'].forEach((lane, tid) => emit({ ph: 'M', pid: s, tid, name: 'thread_name', args: { name: lane } }));
    first += n;
  });
  const steps: StepRecord[] = [];
  let now = 1000;
  let step = 0;
  const perStep = (2 * M + 1) * 2 * S + 4 * 2 * (S - 1) * M + 1; // compute ops + memory counters; SEND, RECV and 2 flows per transfer; loss
  while (count + perStep <= target || step === 0) {
    const stepEvents: TraceEvent[] = [];
    const startUs = now;
    const free = new Array<number>(S).fill(now + 20);
    const done = new Map<string, number>(); // `${op}${s}:${m}` → time its output was sent
    const next = new Array<number>(S).fill(0);
    let left = S;
    while (left > 0) {
      let progressed = false;
      for (let s = 0; s < S; s++) {
        const o = schedule[s][next[s]];
        if (!o) continue;
        const m = o.microbatch;
        const from = o.op === 'F' ? s - 1 : o.op === 'B' && s < S - 1 ? s + 1 : -1;
        let t0 = free[s];
        if (from >= 0) {
          const sent = done.get(`${o.op}${from}:${m}`);
          if (sent === undefined) continue;
          const t1 = Math.max(free[s], sent) + 30 * rand();
          stepEvents.push({ ph: 'X', pid: s, tid: 2, ts: free[s], dur: t1 - free[s], name: `RECV ${o.op === 'F' ? 'act' : 'grad'}`, cat: 'comm', args: { op: 'RECV', stage: s, step, microbatch: m, peer: from, bytes: 262144 } });
          stepEvents.push({ ph: 'f', id: flowId(step, m, o.op === 'F' ? 'act' : 'grad', from), pid: s, tid: 2, ts: Math.min(t1, Math.max(free[s], sent)), name: o.op === 'F' ? 'act' : 'grad', cat: 'flow', bp: 'e' });
          t0 = t1;
        }
        const dur = (o.op === 'F' ? 1000 : 2000) * rand();
        stepEvents.push({ ph: 'X', pid: s, tid: 0, ts: t0, dur, name: o.op, cat: 'compute', args: { op: o.op, stage: s, step, microbatch: m } });
        stepEvents.push({ ph: 'C', pid: s, ts: t0 + dur, name: 'memory', args: { bytes: 40e6 + 1e6 * m * rand() } });
        let end = t0 + dur;
        const to = o.op === 'F' ? s + 1 : s - 1;
        if (to >= 0 && to < S) {
          const sd = 40 * rand();
          const what = o.op === 'F' ? 'act' : 'grad';
          stepEvents.push({ ph: 'X', pid: s, tid: 1, ts: end, dur: sd, name: `SEND ${what}`, cat: 'comm', args: { op: 'SEND', stage: s, step, microbatch: m, peer: to, bytes: 262144 } });
          stepEvents.push({ ph: 's', id: flowId(step, m, what, s), pid: s, tid: 1, ts: end, name: what, cat: 'flow' });
          end += sd;
          done.set(`${o.op}${s}:${m}`, end);
        }
        free[s] = end;
        next[s]++;
        progressed = true;
        if (next[s] === schedule[s].length) {
          const od = 300 * rand();
          stepEvents.push({ ph: 'X', pid: s, tid: 0, ts: end, dur: od, name: 'OPT', cat: 'compute', args: { op: 'OPT', stage: s, step } });
          stepEvents.push({ ph: 'C', pid: s, ts: end + od, name: 'memory', args: { bytes: 40e6 } });
          free[s] = end + od;
          left--;
        }
      }
      if (!progressed) throw new Error('internal: synthetic schedule deadlocked');
    }
    const endUs = Math.max(...free) + 50;
    const loss = 9 - step * 1e-4;
    stepEvents.push({ ph: 'C', pid: S - 1, ts: endUs, name: 'loss', args: { loss } });
    stepEvents.sort((a, b) => ('ts' in a ? a.ts : 0) - ('ts' in b ? b.ts : 0));
    stepEvents.forEach(emit);
    steps.push({ step, startUs, endUs, loss, warmup: step < 2 });
    if (pending.length > 20_000) flush();
    now = endUs + 30;
    step++;
  }
  flush(true);
  const meta: TraceMeta = {
    version: TRACE_VERSION, status: 'complete', plan, model: { name: 'mlp', options: { width: 1024, depth: 8 }, loss: 'mse' }, backend: 'wasm',
    host: { platform: os.platform(), arch: os.arch(), cpus: os.cpus().length, cpuModel: 'synthetic', memoryBytes: os.totalmem(), node: process.version, tfjs: '4.22.0' },
    run: { batch: 128, steps: step - 2, warmup: 2, optimizer: 'adam', lr: 0.001, seed: 0 },
    layers: Array.from({ length: 8 }, (_, l) => ({ name: `dense_${l}`, kind: 'dense' as const, params: 1024 * 1024 + 1024, flops: 2 * 1024 * 1024, activationBytes: 4096 })),
    steps,
  };
  fs.writeSync(fd, `],"displayTimeUnit":"ms","pipeprof":${JSON.stringify(meta)}}`);
  fs.closeSync(fd);
  return { events: count, steps: step, bytes: fs.statSync(file).size };
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  const file = path.join(os.tmpdir(), `pipeprof-bench-${process.pid}.pptrace.json`);
  const w0 = performance.now();
  const made = writeSyntheticTrace(file, EVENTS);
  process.stderr.write(`wrote ${made.events} events, ${made.steps} steps, ${(made.bytes / 2 ** 20).toFixed(0)} MiB in ${seconds(performance.now() - w0)} s\n`);
  const parse: number[] = [];
  const read: number[] = [];
  const analyse: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which side goes first, so the machine's drift lands on both.
      const sides = [
        () => {
          const text = fs.readFileSync(file, 'utf8');
          const a = performance.now();
          JSON.parse(text);
          parse.push(performance.now() - a);
        },
        async () => {
          const a = performance.now();
          const t = await readTimeline(file);
          const b = performance.now();
          const report = buildReport(t);
          const c = performance.now();
          if (!(report.stepTimeMs > 0)) throw new Error('internal: the report has no step time');
          read.push(b - a);
          analyse.push(c - b);
        },
      ];
      if (r % 2) sides.reverse();
      for (const side of sides) {
        await side();
        (globalThis as { gc?: () => void }).gc?.();
      }
    }
  } finally {
    if (args.has('keep')) process.stderr.write(`kept ${file}\n`);
    else fs.rmSync(file, { force: true });
  }
  const best = (xs: number[]) => Math.min(...xs);
  const total = read.map((x, i) => x + analyse[i]);
  const ratio = best(total) / best(parse);
  const md = table(
    ['events', 'file MiB', 'JSON.parse (s)', 'readTimeline (s)', 'buildReport (s)', 'read + report (s)', 'ratio to JSON.parse'],
    [[made.events.toLocaleString('en-US'), (made.bytes / 2 ** 20).toFixed(0), seconds(best(parse)), seconds(best(read)), seconds(best(analyse)), seconds(best(total)), `${ratio.toFixed(2)}×`]],
  );
  console.log(md);
  save('analysis-speed', { machine: machine(), events: made.events, steps: made.steps, bytes: made.bytes, rounds: ROUNDS, parseMs: parse, readTimelineMs: read, buildReportMs: analyse, ratio },
    `synthetic 1F1B trace (4 stages, 8 micro-batches, ${made.steps} steps); best of ${ROUNDS} alternating rounds, ${machine().cpus} cores, node ${process.version}; readTimeline reads, decodes and parses the file, then builds the columns\n\n${md}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
