// Long runs: 1,000 steps of a pipeline with tensor counts, tfjs bytes and the process's memory recorded every step; a leak shows as a slope.
import * as v8 from 'node:v8';
import { builtinModel } from '../core/model/builtin';
import { runPipeline } from '../core/runtime/executor';
import { DEFAULT_OPTIMIZER } from '../core/runtime/optimizer';
import type { Plan } from '../core/plan/types';
import { machine, save, table, args } from './common';

const STEPS = Number(args.get('steps') ?? 1000);

/** Least-squares slope of ys over their index. */
function slope(ys: number[]): number {
  const n = ys.length;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  ys.forEach((y, i) => {
    sxy += (i - mx) * (y - my);
    sxx += (i - mx) ** 2;
  });
  return sxx ? sxy / sxx : 0;
}

const CASES: { name: string; plan: Plan; sync?: { sync: 'layerwise'; allreduce: 'ring'; compress: 'int8' } }[] = [
  { name: 'mlp 4×256, S=2, M=4, 1f1b, recompute except-last', plan: { balance: [2, 2], microbatches: 4, schedule: '1f1b', recompute: 'except-last', replicas: 1 } },
  { name: 'mlp 4×256, S=2, M=4, zb-h1', plan: { balance: [2, 2], microbatches: 4, schedule: 'zb-h1', recompute: 'never', replicas: 1 } },
  { name: 'mlp 4×256, 2 replicas, layerwise int8 all-reduce', plan: { balance: [4], microbatches: 2, schedule: '1f1b', recompute: 'never', replicas: 2 }, sync: { sync: 'layerwise', allreduce: 'ring', compress: 'int8' } },
];

async function main(): Promise<void> {
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  for (const c of CASES) {
    const rss: number[] = [];
    const heap: number[] = [];
    const t0 = performance.now();
    const r = await runPipeline({
      model: builtinModel('mlp', { width: 256, depth: 4 }), plan: c.plan, batch: 32, steps: STEPS, warmup: 0,
      optimizer: { ...DEFAULT_OPTIMIZER, kind: 'adam', lr: 1e-3 }, backend: 'wasm', seed: 0, trace: true, probe: false, ...(c.sync ? { sync: c.sync } : {}),
      onStep: () => {
        rss.push(process.memoryUsage().rss);
        heap.push(v8.getHeapStatistics().used_heap_size);
      },
    });
    const secs = (performance.now() - t0) / 1000;
    const tensors = r.tensorsPerStep.map((t) => t.reduce((a, b) => a + b, 0));
    // After the first 10% (allocators and JIT settling), per 1,000 steps.
    const from = Math.floor(STEPS / 10);
    const tSlope = slope(tensors.slice(from)) * 1000;
    const rssSlope = slope(rss.slice(from)) * 1000;
    const events = r.trace.traceEvents.length;
    data.push({ case: c.name, steps: STEPS, seconds: secs, tensorsFirst: tensors[0], tensorsLast: tensors.at(-1), tensorSlopePer1000: tSlope, rssFirstMiB: rss[from] / 2 ** 20, rssLastMiB: rss.at(-1)! / 2 ** 20, rssSlopeMiBPer1000: rssSlope / 2 ** 20, traceEvents: events });
    rows.push([c.name, STEPS, secs.toFixed(0), `${tensors[0]} → ${tensors.at(-1)}`, tSlope.toFixed(2), `${(rss[from] / 2 ** 20).toFixed(0)} → ${(rss.at(-1)! / 2 ** 20).toFixed(0)}`, (rssSlope / 2 ** 20).toFixed(1), events]);
    process.stderr.write(`${c.name}: ${secs.toFixed(0)} s, tensors ${tensors[0]} → ${tensors.at(-1)}, rss ${(rss[from] / 2 ** 20).toFixed(0)} → ${(rss.at(-1)! / 2 ** 20).toFixed(0)} MiB\n`);
  }
  const md = table(['run', 'steps', 's', 'live tensors (all workers), first → last step', 'tensor slope /1000 steps', 'main-process RSS MiB (step 10% → last)', 'RSS slope MiB/1000 steps', 'trace events kept'], rows);
  console.log(md);
  save('long-run', { machine: machine(), results: data }, `${STEPS} steps per run, batch 32, adam, wasm, tracing on (the trace of every step is kept in the main process until the end, so its RSS grows with the events); slopes are least squares after the first 10% of the steps\n\n${md}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
