// The webgpu backend on a GPU: pipeline speedup S = 1, 2, 4 on one GPU, step time against wasm, the simulator's error and each stage's GPU share.
import { builtinModel } from '../core/model/builtin';
import type { BuiltinModel } from '../core/model/builtin';
import { runPipeline, median } from '../core/runtime/executor';
import type { RunResult } from '../core/runtime/executor';
import type { BackendName } from '../core/runtime/backends';
import { DEFAULT_OPTIMIZER } from '../core/runtime/optimizer';
import { uniformBalance } from '../core/plan/partition';
import { timelineFromTrace } from '../core/trace/import';
import { calibrate } from '../core/simulate/calibrate';
import { simulate } from '../core/simulate/simulate';
import { gpuShare } from '../core/analysis/gpu-share';
import { machine, save, table, args } from './common';

/** --small: tiny models and one round, to check the script on a software GPU (lavapipe) before a GPU machine's short time. */
const small = args.get('small') === 'true';
const M = Number(args.get('microbatches') ?? 8);
const steps = Number(args.get('steps') ?? (small ? 2 : 6));
const rounds = Number(args.get('rounds') ?? (small ? 1 : 2));
const stagesList = (args.get('stages') ?? '1,2,4').split(',').map(Number);
const wasm = args.get('wasm') !== 'false';
const MODELS: { name: BuiltinModel; options: Record<string, number>; batch: number }[] = small
  ? [{ name: 'mlp', options: { width: 64, depth: 4 }, batch: 16 }, { name: 'transformer', options: { vocab: 96, dModel: 32, heads: 2, seqLen: 8, blocks: 2, ffn: 64 }, batch: 16 }]
  : [
    // Large enough to keep a GPU busy: ~0.4 TFLOP per mlp step, ~1 TFLOP per transformer step.
    { name: 'mlp', options: { width: 8192, depth: 8 }, batch: 512 },
    { name: 'transformer', options: { vocab: 8192, dModel: 1024, heads: 16, seqLen: 256, blocks: 8, ffn: 4096 }, batch: 64 },
  ];

async function run(m: (typeof MODELS)[number], S: number, backend: BackendName): Promise<RunResult> {
  const model = builtinModel(m.name, m.options);
  return runPipeline({
    model, plan: { balance: uniformBalance(model.layers.length, S), microbatches: M, schedule: '1f1b', recompute: 'never', replicas: 1 },
    batch: m.batch, steps, warmup: 2, warmupMs: small ? 0 : 3000, optimizer: { ...DEFAULT_OPTIMIZER, kind: 'sgd', lr: 0.001 }, backend, seed: 0, trace: true,
  });
}

async function main(): Promise<void> {
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  let adapter = 'none';
  for (const m of MODELS) {
    const times = new Map<string, number[]>();
    const last = new Map<string, RunResult>();
    // Rounds interleave every configuration, so drift hits all alike.
    for (let round = 0; round < rounds; round++)
      for (const backend of (wasm ? ['webgpu', 'wasm'] : ['webgpu']) as BackendName[])
        for (const S of stagesList) {
          const k = `${backend}/${S}`;
          const r = await run(m, S, backend);
          times.set(k, [...(times.get(k) ?? []), ...r.stepTimesMs]);
          last.set(k, r);
          if (r.trace.pipeprof.host.gpu) adapter = r.trace.pipeprof.host.gpu.adapter;
          process.stderr.write(`${m.name} round ${round + 1}/${rounds} ${backend} S=${S}: ${median(r.stepTimesMs).toFixed(1)} ms\n`);
        }
    const base = median(times.get('webgpu/1')!);
    for (const S of stagesList) {
      const r = last.get(`webgpu/${S}`)!;
      const t = median(times.get(`webgpu/${S}`)!);
      const tl = timelineFromTrace(JSON.parse(JSON.stringify(r.trace)), `${m.name}-S${S}.pptrace.json`);
      // The simulator calibrated on this run, predicting this run's own plan.
      const costs = calibrate(tl);
      const predicted = simulate({ plan: tl.plan!, batch: m.batch, costs, layers: tl.layers, steps: 1 });
      const predMs = (predicted.steps[0].endUs - predicted.steps[0].startUs) / 1000;
      const share = gpuShare(tl);
      const ideal = (S * M) / (M + S - 1);
      const wasmMs = wasm ? median(times.get(`wasm/${S}`)!) : NaN;
      data.push({ model: m.name, options: m.options, batch: m.batch, stages: S, microbatches: M, stepMs: t, speedup: base / t, ideal, efficiency: base / t / ideal, wasmStepMs: wasmMs, predictedMs: predMs, simError: predMs / t - 1, concurrency: costs.sharedGpu?.concurrency ?? null, shares: share?.workers.map((w) => w.share) ?? [], concurrent: share?.concurrent ?? null });
      rows.push([m.name, S, t.toFixed(1), S > 1 ? (base / t).toFixed(2) : '', S > 1 ? `${((base / t / ideal) * 100).toFixed(0)}%` : '', wasm ? wasmMs.toFixed(1) : '–', wasm ? (wasmMs / t).toFixed(2) : '–',
        `${((predMs / t - 1) * 100).toFixed(1)}%`, costs.sharedGpu?.concurrency?.toFixed(2) ?? '–', share ? share.workers.map((w) => `${(w.share * 100).toFixed(0)}%`).join(' / ') : '']);
    }
  }
  const md = table(['model', 'S', 'webgpu step ms', 'speedup', 'of ideal S·M/(M+S−1)', 'wasm step ms', 'wasm / webgpu', 'simulator error', 'GPU concurrency', 'GPU share per stage'], rows);
  console.log(md);
  save(small ? 'webgpu-small' : 'webgpu', { machine: machine(), adapter, microbatches: M, steps, rounds, results: data },
    `webgpu on ${adapter}, 1f1b, M = ${M}, every stage worker its own Dawn device on the one GPU; wasm on the same machine's ${machine().cpus} cores; median of ${rounds * steps} step times from ${rounds} interleaved rounds; simulator calibrated on each run, predicting it\n\n${md}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
