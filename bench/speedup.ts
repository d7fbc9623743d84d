// Pipeline speedup: throughput at S stages against S=1 (same model, minibatch and M), next to the bubble-limited ideal S·M/(M+S−1).
import { builtinModel } from '../core/model/builtin';
import { runPipeline, median } from '../core/runtime/executor';
import { DEFAULT_OPTIMIZER } from '../core/runtime/optimizer';
import { uniformBalance } from '../core/plan/partition';
import { machine, save, table, args } from './common';

const width = Number(args.get('width') ?? 1024);
const depth = Number(args.get('depth') ?? 8);
const batch = Number(args.get('batch') ?? 256);
const steps = Number(args.get('steps') ?? 8);
const rounds = Number(args.get('rounds') ?? 3);
const stagesList = (args.get('stages') ?? '1,2,4').split(',').map(Number);
const mList = (args.get('microbatches') ?? '1,2,4,8,16').split(',').map(Number);

/** Every measured step's time of one run. */
async function stepTimes(S: number, M: number): Promise<number[]> {
  const model = builtinModel('mlp', { width, depth });
  const r = await runPipeline({
    model, plan: { balance: uniformBalance(depth, S), microbatches: M, schedule: '1f1b', recompute: 'never', replicas: 1 },
    batch, steps, warmup: 2, optimizer: { ...DEFAULT_OPTIMIZER, kind: 'sgd', lr: 0.001 }, backend: 'wasm', seed: 0, trace: true,
  });
  return r.stepTimesMs;
}

async function main(): Promise<void> {
  const times = new Map<string, number[]>();
  // Rounds interleave every configuration, so drift on a noisy machine hits all of them alike.
  for (let round = 0; round < rounds; round++)
    for (const M of mList)
      for (const S of stagesList) {
        const k = `${S}/${M}`;
        const run = await stepTimes(S, M);
        times.set(k, [...(times.get(k) ?? []), ...run]);
        process.stderr.write(`round ${round + 1}/${rounds} S=${S} M=${M}: ${median(run).toFixed(1)} ms\n`);
      }
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  for (const M of mList)
    for (const S of stagesList.filter((s) => s > 1)) {
      const base = median(times.get(`1/${M}`)!);
      const t = median(times.get(`${S}/${M}`)!);
      const speedup = base / t;
      const ideal = (S * M) / (M + S - 1);
      const efficiency = speedup / ideal;
      data.push({ stages: S, microbatches: M, stepMsS1: base, stepMs: t, speedup, ideal, efficiency, workersPerCore: S / machine().cpus });
      rows.push([S, M, base.toFixed(1), t.toFixed(1), speedup.toFixed(2), ideal.toFixed(2), `${(efficiency * 100).toFixed(0)}%`, S > machine().cpus ? `${S} workers on ${machine().cpus} cores` : '']);
    }
  const md = table(['S', 'M', 'S=1 step ms', 'step ms', 'speedup', 'ideal S·M/(M+S−1)', 'of ideal', 'note'], rows);
  console.log(md);
  const goal = data.find((d) => d.stages === 2 && d.microbatches === 8) as { efficiency: number } | undefined;
  if (goal) console.log(`\ngoal: S=2, M=8 reaches ${(goal.efficiency * 100).toFixed(1)}% of the ideal (target ≥ 90%)`);
  save('speedup', { machine: machine(), model: { name: 'mlp', width, depth }, batch, steps, rounds, results: data },
    `mlp ${depth}×${width} (equal layers), batch ${batch}, 1f1b, wasm, ${machine().cpus} cores; median of all ${rounds * steps} step times from ${rounds} interleaved rounds\n\n${md}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
