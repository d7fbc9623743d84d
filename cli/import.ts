// `pipeprof import <rank files | folder> --out run.pptrace.json`: PyTorch profiler (Kineto) traces → one pipeprof trace.
import * as path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../core/config/errors';
import { checkOutputs, writeOrKeep } from '../core/io/outputs';
import { expandInputs } from '../core/io/read-trace';
import { timelineToTrace } from '../core/trace/export';
import { OP_KINDS } from '../core/trace/timeline';
import type { CliIO } from './io';
import { readInputs } from './io';

export interface ImportFlags {
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

/** What `import --json` prints. */
export interface ImportSummary {
  out: string;
  ranks: { rank: number; file: string; stage: number; replica: number; skewUs: number }[];
  pipeline: boolean;
  plan: { stages: number; microbatches: number; schedule: string } | null;
  steps: number;
  ops: number;
  kernels: number;
}

export async function importCommand(inputs: string[], flags: ImportFlags, io: CliIO): Promise<ImportSummary> {
  const out = flags.out ?? 'run.pptrace.json';
  checkOutputs([{ flag: '--out', file: out }], (await expandInputs(inputs)).map((f) => ({ flag: '', file: f })));
  const t = await readInputs(io, inputs, { quiet: flags.quiet, label: 'import' });
  if (t.origin !== 'kineto') throw new UsageError([`${inputs[0]}: is a pipeprof trace already; import reads PyTorch profiler traces (one file per rank, or their folder)`]);
  await writeOrKeep('--out', out, JSON.stringify(timelineToTrace(t)));
  const kernels = t.kernels?.length ?? 0;
  const summary: ImportSummary = {
    out,
    ranks: (t.ranks ?? []).map((r) => ({ rank: r.rank, file: r.file, stage: r.stage, replica: r.replica, skewUs: r.skewUs })),
    pipeline: !!t.plan,
    plan: t.plan ? { stages: t.stages, microbatches: t.plan.microbatches, schedule: t.plan.schedule } : null,
    steps: t.steps.length,
    ops: t.ops.length,
    kernels,
  };
  if (flags.json) io.out(`${JSON.stringify(summary)}\n`);
  else {
    const kinds = new Map<string, number>();
    const gpu = t.kernels ?? t.ops;
    for (let i = 0; i < gpu.length; i++) {
      const k = OP_KINDS[gpu.kind[i]];
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    io.out(
      [
        `ranks       ${summary.ranks.map((r) => `${r.rank} (${path.basename(r.file)}${r.skewUs ? `, clock ${r.skewUs >= 0 ? '+' : ''}${r.skewUs.toFixed(0)} µs` : ''})`).join(', ')}`,
        t.plan
          ? `pipeline    ${t.stages} stages${t.plan.replicas > 1 ? ` × ${t.plan.replicas} replicas` : ''}, ${t.plan.microbatches} micro-batches, ${t.plan.schedule} (ops identified by ${[...new Set((t.ranks ?? []).flatMap((r) => (r.opsRule ? [r.opsRule] : [])))].join(' and ')})`
          : 'pipeline    none (see the warning above): per-rank analysis',
        `steps       ${t.steps.length}`,
        `GPU ops     ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}`,
        `trace       ${out}  (pipeprof report ${out})`,
        '',
      ].join('\n'),
    );
  }
  return summary;
}

export function registerImport(program: Command, io: CliIO): void {
  program
    .command('import')
    .argument('<traces...>', 'PyTorch profiler (Kineto) traces, one per rank (.json or .json.gz), or the folder holding them')
    .description('import PyTorch profiler traces of one job (ranks aligned on one clock) into a pipeprof trace')
    .option('--out <file>', 'the pipeprof trace to write (default: run.pptrace.json)')
    .option('--json', 'print {"out", "ranks", "pipeline", "plan", "steps", "ops", "kernels"} on stdout (default: off)')
    .option('--quiet', 'no progress bar (default: off)')
    .action(async (inputs: string[], flags: ImportFlags) => {
      await importCommand(inputs, flags, io);
    });
}
