// A plan in the forms pipeline engines take: torchgpipe/fairscale, DeepSpeed, Megatron-LM and torch.distributed.pipelining.
//
// What each engine's semantics are was checked against its source (public repositories, read while writing this):
// - torchgpipe `GPipe(module: nn.Sequential, balance, *, chunks, checkpoint)`: checkpoint is one of 'always',
//   'except_last', 'never' (torchgpipe/gpipe.py); fairscale.nn.Pipe takes the same balance, chunks and checkpoint.
// - DeepSpeed `PipelineModule._partition_layers` (deepspeed/runtime/pipe/module.py) sets `self.parts`, num_stages + 1
//   boundaries, and stage s builds layers parts[s] <= i < parts[s + 1] (`_set_bounds(start=parts[stage_id],
//   stop=parts[stage_id + 1])`, `stage_owner`). partition_method is 'uniform', 'parameters' or 'type:<regex>'
//   (a balanced split of matching layers); none takes explicit cuts, so a subclass overriding `_partition_layers` does.
//   `partition_uniform` changed between versions (the remainder on the last part, later spread over the first ones),
//   so 'uniform' is only named when every stage has the same number of layers. `activation_checkpoint_interval` (layers
//   per checkpoint, 0 = off) is the recompute switch.
// - Megatron-LM (megatron/training/arguments.py, megatron/core TransformerConfig): `--decoder-first-pipeline-num-layers`
//   and `--decoder-last-pipeline-num-layers` count transformer layers on the first and last stage, each > 0; the rest are
//   split evenly over the middle stages (remaining % middle stages == 0), so middle stages must be equal. The embedding
//   sits on the first stage and the output layer on the last. Newer Megatron-Core also has an experimental
//   `--pipeline-model-parallel-layout` ('E' embedding, 't' transformer layer, 'L' loss/output, '|' between stages).
//   Recompute: `--recompute-granularity full --recompute-method uniform --recompute-num-layers 1`.
// - torch.distributed.pipelining: `pipeline(module, mb_args, split_spec={"<module path>": SplitPoint.BEGINNING})`,
//   `pipe.build_stage(stage_index, device)`, schedules ScheduleGPipe / Schedule1F1B (PipelineScheduleSingle: one stage
//   object) and ScheduleInterleaved1F1B / ScheduleInterleavedZeroBubble / ScheduleZBVZeroBubble (PipelineScheduleMulti:
//   `stages: list[_PipelineStageBase]`, the rank's stages), each with `n_microbatches` (torch/distributed/pipelining/
//   schedules.py). ScheduleInterleavedZeroBubble is the paper's ZB1P, zb-h1 with the rank's stages looped: given the one
//   stage of each rank it is pipeprof's zb-h1; ScheduleZBVZeroBubble needs exactly two stages per rank in a V (rank r
//   holds stages r and 2S−1−r), another plan. The multi-stage schedules run rounds = max(1, ⌊M/S⌋), which must divide M.
// - Megatron-LM (upstream) and DeepSpeed's TrainSchedule run 1F1B; neither splits B from W (zb-h1: the Zero Bubble
//   authors' Megatron fork), and neither torchgpipe nor DeepSpeed interleaves model chunks.
import type { LayerSummary } from '../model/types';
import { UsageError } from '../config/errors';
import { choice } from '../config/choice';
import { analyticBubble } from '../schedule/analytic';
import type { ScheduleName } from '../plan/types';

export const EXPORT_FORMATS = ['torchgpipe', 'deepspeed', 'megatron', 'torch-pipelining'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The plan fields an export reads (a RankedPlan or a Plan); schedule names as DESIGN.md lists them. */
export interface ExportPlan {
  balance: number[];
  microbatches: number;
  schedule: string;
  recompute: string;
  /** interleaved-1f1b: model chunks per stage; balance then lists stages × chunks virtual stages. */
  chunks?: number;
}

export interface ExportInput {
  plan: ExportPlan;
  /** pipeprof's layers in model order (their names label the cuts). */
  layers: readonly LayerSummary[];
  /** Samples per minibatch (the traced batch), for the batch settings; null when unknown. */
  batch: number | null;
}

/** `pipeprof recommend --format F --json`: the `export` field of each plan. */
export interface PlanExport {
  format: ExportFormat;
  /** False when the engine cannot run this plan: `snippet` is then null and `problem` says why (rule → values → fix). */
  ok: boolean;
  /** Python (torchgpipe, deepspeed, torch-pipelining) or command-line flags (megatron), several lines. */
  snippet: string | null;
  problem: string | null;
  /**
   * The nearest plan the engine can run, when it cannot run this one exactly: Megatron's equal middle stages (then
   * `ok` is false), or a schedule the engine does not have (then `ok` is true, the snippet runs this plan and says so).
   */
  nearest: { balance: number[]; schedule?: string } | null;
}

/** `--format` text → a format; anything else is a UsageError listing the formats. */
export function parseFormat(text: string): ExportFormat {
  const f = choice(text, EXPORT_FORMATS);
  if (f !== undefined) return f;
  throw new UsageError([`--format must be one of ${EXPORT_FORMATS.join(', ')} (got ${JSON.stringify(text)}); e.g. --format torchgpipe`]);
}

/** A name from a trace safe inside a comment: no line break or control character can end the comment. */
const safe = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
/** A Python string literal in plain ASCII: quotes and backslashes escaped, anything else outside printable ASCII as \u or \U escapes. */
export function pyString(s: string): string {
  const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (SHORT[ch]) out += SHORT[ch];
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else out += c <= 0xffff ? `\\u${c.toString(16).padStart(4, '0')}` : `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** [first, end) layer index of each stage. */
export function stageRanges(balance: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  let l = 0;
  for (const n of balance) {
    out.push([l, l + n]);
    l += n;
  }
  return out;
}

/** DeepSpeed's `parts`: [0, b0, b0 + b1, …, L]. */
export function boundaries(balance: readonly number[]): number[] {
  return [0, ...stageRanges(balance).map(([, end]) => end)];
}

/** "embedding … block_3 (5 layers)" for a stage's comment. */
function stageNames(layers: readonly LayerSummary[], [first, end]: [number, number]): string {
  const n = end - first;
  const name = (i: number) => safe(layers[i]?.name ?? `layer ${i}`);
  const names = n === 1 ? name(first) : n === 2 ? `${name(first)}, ${name(end - 1)}` : `${name(first)} … ${name(end - 1)}`;
  return `${names} (${n} layer${n === 1 ? '' : 's'})`;
}

function stageComments(input: ExportInput, prefix: string): string[] {
  return stageRanges(input.plan.balance).map((r, s) => `${prefix} stage ${s}: ${stageNames(input.layers, r)}`);
}

/** Transformer blocks per stage, when the model is embedding, blocks, head (pipeprof's built-in transformer); else null. */
export function transformerBlocks(balance: readonly number[], layers: readonly LayerSummary[]): number[] | null {
  const L = layers.length;
  if (L < 2 || layers[0].kind !== 'embedding' || layers[L - 1].kind !== 'lm-head') return null;
  return stageRanges(balance).map(([first, end]) => Math.min(end, L - 1) - Math.max(first, 1));
}

/** Megatron's layout string for blocks per stage: 'Et*3|t*3|t*2L'. */
function megatronLayout(blocks: readonly number[]): string {
  const t = (n: number) => (n === 0 ? '' : n === 1 ? 't' : `t*${n}`);
  return blocks.map((n, s) => `${s === 0 ? 'E' : ''}${t(n)}${s === blocks.length - 1 ? 'L' : ''}`).join('|');
}

/**
 * The representable block split nearest `blocks`: first and last stage > 0, equal middles (> 0), the same total; the
 * fewest blocks moved, then the smallest largest move. Null when none exists (fewer blocks than stages).
 */
export function nearestMegatronSplit(blocks: readonly number[]): number[] | null {
  const S = blocks.length;
  const N = blocks.reduce((a, b) => a + b, 0);
  if (S === 1) return N > 0 ? [N] : null;
  let best: { split: number[]; moved: number; worst: number } | null = null;
  for (let m = S > 2 ? 1 : 0; m <= (S > 2 ? N : 0); m++) {
    for (let first = 1; first <= N; first++) {
      const last = N - first - m * (S - 2);
      if (last < 1) break;
      const split = [first, ...new Array<number>(S - 2).fill(m), last];
      const diffs = split.map((x, s) => Math.abs(x - blocks[s]));
      const moved = diffs.reduce((a, b) => a + b, 0);
      const worst = Math.max(...diffs);
      if (!best || moved < best.moved || (moved === best.moved && worst < best.worst)) best = { split, moved, worst };
    }
  }
  return best?.split ?? null;
}

const RECOMPUTE_GPIPE: Record<string, string> = { always: 'always', 'except-last': 'except_last', never: 'never' };
const TORCH_SCHEDULES: Record<string, string> = { gpipe: 'ScheduleGPipe', '1f1b': 'Schedule1F1B', 'interleaved-1f1b': 'ScheduleInterleaved1F1B', 'zb-h1': 'ScheduleInterleavedZeroBubble' };

/** Samples per micro-batch, when the batch is known and the micro-batches divide it. */
const microBatchSize = (input: ExportInput): number | null =>
  input.batch !== null && input.batch > 0 && input.batch % input.plan.microbatches === 0 ? input.batch / input.plan.microbatches : null;

/** The plan's analytic bubble beside another schedule's, as "12.5% against the plan's 4.5%", for notes on a schedule an engine lacks. */
function bubbleAgainst(p: ExportPlan, schedule: ScheduleName): string {
  const plan = { balance: p.balance, microbatches: p.microbatches, chunks: p.chunks };
  const theirs = analyticBubble({ ...plan, schedule, chunks: undefined });
  const ours = analyticBubble({ ...plan, schedule: p.schedule as ScheduleName });
  const pc = (x: number | null) => (x === null ? '?' : `${(x * 100).toFixed(1)}%`);
  return `an analytic bubble of ${pc(theirs)} against the plan's ${pc(ours)}`;
}

/** A note for an engine that runs only 1F1B-like schedules: what of the plan's schedule it cannot express, and the nearest plan. */
function oneF1BOnly(engine: string, p: ExportPlan, prefix: string): string | null {
  if (p.schedule === 'zb-h1')
    return `${prefix}note: ${engine} has no zb-h1 schedule (it does not split the backward into B and W); this runs the nearest plan, the same balance with 1f1b: ${bubbleAgainst(p, '1f1b')}; check it with pipeprof simulate --schedule 1f1b`;
  return null;
}

/** The contiguous stages an engine without model chunks runs for an interleaved plan: each stage's v virtual stages joined. */
function unchunked(p: ExportPlan): number[] {
  const v = p.chunks ?? 1;
  const out: number[] = [];
  for (let k = 0; k < p.balance.length; k += v) out.push(p.balance.slice(k, k + v).reduce((a, b) => a + b, 0));
  return out;
}

/** Refuses an interleaved plan (v > 1) for an engine without chunks: rule → values → the nearest plan. */
function chunksProblem(format: ExportFormat, engine: string, p: ExportPlan): PlanExport | null {
  const v = p.chunks ?? 1;
  if (v <= 1) return null;
  const balance = unchunked(p);
  return {
    format, ok: false, snippet: null, nearest: { balance, schedule: '1f1b' },
    problem: `${format}: ${engine} runs one model chunk per stage, but this plan has ${v} per stage (balance [${p.balance.join(',')}] lists ${p.balance.length} virtual stages); the nearest plan it runs is balance [${balance.join(',')}] with 1f1b: check it with pipeprof simulate --balance ${balance.join(',')} --schedule 1f1b --chunks 1`,
  };
}

function torchgpipe(input: ExportInput): string {
  const p = input.plan;
  const lines = [
    '# torchgpipe (fairscale.nn.Pipe takes the same balance, chunks and checkpoint): `model` is an nn.Sequential of',
    "# pipeprof's layers, in this order:",
    ...stageComments(input, '#  '),
    'from torchgpipe import GPipe',
    `model = GPipe(model, balance=[${p.balance.join(', ')}], chunks=${p.microbatches}, checkpoint=${pyString(RECOMPUTE_GPIPE[p.recompute] ?? p.recompute).replace(/^"([a-z_]+)"$/, "'$1'")})`,
  ];
  if (p.schedule === '1f1b')
    lines.push("# note: the plan was ranked with the 1f1b schedule; torchgpipe always runs GPipe's (all forwards, then all backwards): the same bubble, more activation memory");
  else if (p.schedule !== 'gpipe')
    lines.push(`# note: the plan was ranked with the ${safe(p.schedule)} schedule; torchgpipe always runs GPipe's (all forwards, then all backwards): this runs the nearest plan, the same balance with gpipe, ${bubbleAgainst(p, 'gpipe')} and more activation memory`);
  return lines.join('\n');
}

function deepspeed(input: ExportInput): string {
  const p = input.plan;
  const S = p.balance.length;
  const parts = boundaries(p.balance);
  const uniform = p.balance.every((n) => n === p.balance[0]);
  const interval = p.recompute === 'never' ? 0 : 1;
  const mbs = microBatchSize(input);
  const lines = [
    '# DeepSpeed PipelineModule: stage s owns layers[parts[s]:parts[s + 1]] (its `self.parts`), pipeprof\'s layers in order:',
    ...stageComments(input, '#  '),
    'from deepspeed.pipe import PipelineModule',
    '',
    `parts = [${parts.join(', ')}]`,
  ];
  if (uniform) {
    lines.push(
      '',
      "# Every stage has the same number of layers: partition_method='uniform' gives these parts.",
      `model = PipelineModule(layers=layers, num_stages=${S}, partition_method='uniform', activation_checkpoint_interval=${interval})`,
    );
  } else {
    lines.push(
      '',
      '',
      'class PlannedPipelineModule(PipelineModule):',
      "    \"\"\"partition_method ('uniform', 'parameters', 'type:<regex>') cannot cut at given layers: use pipeprof's parts.\"\"\"",
      '',
      "    def _partition_layers(self, method='uniform'):",
      '        self.parts = list(parts)',
      '        stage_id = self._topo.get_coord(self.global_rank).pipe',
      '        self._set_bounds(start=self.parts[stage_id], stop=self.parts[stage_id + 1])',
      '',
      '',
      `model = PlannedPipelineModule(layers=layers, num_stages=${S}, activation_checkpoint_interval=${interval})`,
    );
  }
  if (p.recompute === 'except-last')
    lines.push("# note: DeepSpeed recomputes every micro-batch; pipeprof's except-last keeps the last one's activations: this is the nearest setting");
  if (p.schedule === 'gpipe')
    lines.push("# note: DeepSpeed runs its own 1F1B-style TrainSchedule; the plan was ranked with gpipe (the same bubble, more activation memory)");
  const zb = oneF1BOnly("DeepSpeed's TrainSchedule", p, '# ');
  if (zb) lines.push(zb);
  const ds = mbs !== null
    ? `{"train_batch_size": ${input.batch}, "train_micro_batch_size_per_gpu": ${mbs}, "gradient_accumulation_steps": ${p.microbatches}}`
    : `{"gradient_accumulation_steps": ${p.microbatches}}`;
  lines.push(`# DeepSpeed config (one pipeline, no data parallelism; with D replicas train_batch_size is ${mbs !== null ? `${input.batch}` : 'the batch'} × D): the micro-batches are gradient accumulation steps`);
  lines.push(`ds_config = ${ds}`);
  return lines.join('\n');
}

function megatronProblem(input: ExportInput, blocks: number[]): PlanExport | null {
  const S = blocks.length;
  const layout = blocks.map((n, s) => `${s === 0 ? 'E,' : ''}${n}${s === S - 1 ? ',H' : ''}`).join('|');
  const ends = S > 1 && (blocks[0] < 1 || blocks[S - 1] < 1);
  const middles = blocks.slice(1, -1);
  const unequal = middles.some((n) => n !== middles[0]) || (middles.length > 0 && middles[0] < 1);
  if (!ends && !unequal) return null;
  const nearest = nearestMegatronSplit(blocks);
  const rule = ends
    ? 'Megatron-LM puts at least one transformer layer on the first and the last stage (--decoder-first/last-pipeline-num-layers must be > 0)'
    : 'Megatron-LM splits the transformer layers between the first and last stage evenly over the middle stages (--decoder-first/last-pipeline-num-layers set only the ends)';
  const values = ends
    ? `this plan has ${blocks[0]} on the first and ${blocks[S - 1]} on the last (blocks per stage ${layout}, balance [${input.plan.balance.join(',')}])`
    : `this plan's middle stages hold ${middles.join(', ')} (blocks per stage ${layout}, balance [${input.plan.balance.join(',')}])`;
  let fix = `or pass --pipeline-model-parallel-layout "${megatronLayout(blocks)}" to a Megatron-Core that has it (experimental)`;
  let near: PlanExport['nearest'] = null;
  if (nearest) {
    const balance = nearest.map((n, s) => n + (s === 0 ? 1 : 0) + (s === S - 1 ? 1 : 0));
    near = { balance };
    fix = `the nearest plan it runs is balance [${balance.join(',')}]: check it with pipeprof simulate --balance ${balance.join(',')}, ${fix}`;
  } else fix = `no split with one transformer layer per stage exists for ${blocks.reduce((a, b) => a + b, 0)} layers on ${S} stages; use fewer stages, ${fix}`;
  return { format: 'megatron', ok: false, snippet: null, problem: `megatron: ${rule}, but ${values}; ${fix}`, nearest: near };
}

function megatron(input: ExportInput): PlanExport {
  const p = input.plan;
  const blocks = transformerBlocks(p.balance, input.layers);
  if (!blocks) {
    const kinds = [...new Set(input.layers.map((l) => safe(l.kind)))].join(', ');
    return {
      format: 'megatron', ok: false, snippet: null, nearest: null,
      problem: `megatron: Megatron-LM pipelines transformer layers between an embedding and an output layer, but this model's layers are ${kinds || 'unknown'}; export it with --format torchgpipe, deepspeed or torch-pipelining instead`,
    };
  }
  const problem = megatronProblem(input, blocks);
  if (problem) return problem;
  const S = blocks.length;
  const N = blocks.reduce((a, b) => a + b, 0);
  const even = blocks.every((n) => n === blocks[0]);
  const mbs = microBatchSize(input);
  const flags = [`--pipeline-model-parallel-size ${S}`, `--num-layers ${N}`];
  if (!even) flags.push(`--decoder-first-pipeline-num-layers ${blocks[0]}`, `--decoder-last-pipeline-num-layers ${blocks[S - 1]}`);
  if (mbs !== null) flags.push(`--micro-batch-size ${mbs}`, `--global-batch-size ${input.batch}`);
  if (p.recompute !== 'never') flags.push('--recompute-granularity full', '--recompute-method uniform', '--recompute-num-layers 1');
  const lines = [
    `# Megatron-LM: transformer layers per stage ${blocks.join(', ')} (pipeprof's balance [${p.balance.join(',')}] less the embedding on`,
    '# the first stage and the output layer on the last)',
    ...flags.map((f, i) => `${f}${i < flags.length - 1 ? ' \\' : ''}`),
  ];
  if (mbs !== null) lines.push(`# with data-parallel size D, multiply --global-batch-size by D: Megatron runs global / (micro × D) = ${p.microbatches} micro-batches`);
  else lines.push(`# set --micro-batch-size and --global-batch-size so that global / (micro × data-parallel size) = ${p.microbatches} micro-batches`);
  if (p.recompute === 'except-last') lines.push("# note: Megatron recomputes every micro-batch; pipeprof's except-last keeps the last one's activations: this is the nearest setting");
  if (p.schedule === 'gpipe') lines.push('# note: Megatron runs 1F1B (it has no GPipe schedule): the same bubble, less activation memory');
  const zb = oneF1BOnly('Megatron-LM', p, '# ');
  if (zb) lines.push(zb);
  return { format: 'megatron', ok: true, snippet: lines.join('\n'), problem: null, nearest: zb ? { balance: p.balance, schedule: '1f1b' } : null };
}

function torchPipelining(input: ExportInput): PlanExport {
  const p = input.plan;
  const cls = TORCH_SCHEDULES[p.schedule] ?? 'Schedule1F1B';
  const ranges = stageRanges(p.balance);
  const multi = p.schedule === 'interleaved-1f1b' || p.schedule === 'zb-h1';
  const v = p.chunks ?? 1;
  const S = p.balance.length / v;
  const rounds = Math.max(1, Math.floor(p.microbatches / S));
  if (multi && p.microbatches % rounds !== 0) {
    const fit = [S * rounds, S * (rounds + 1)].filter((m) => m > 0);
    return {
      format: 'torch-pipelining', ok: false, snippet: null, nearest: null,
      problem: `torch-pipelining: ${cls} runs max(1, ⌊M/S⌋) rounds, which must divide M, but M = ${p.microbatches} on S = ${S} stages gives ${rounds} rounds; use ${fit.join(' or ')} micro-batches (pipeprof simulate --microbatches ${fit[0]})`,
    };
  }
  const lines = [
    "# torch.distributed.pipelining: a split before the first layer of each stage after the first. The names are pipeprof's",
    '# layer names: replace each with the module path of that layer in your model (e.g. "block_4" → "layers.4").',
    `from torch.distributed.pipelining import SplitPoint, pipeline, ${cls}`,
    '',
    `# stage 0: ${stageNames(input.layers, ranges[0])}`,
    'split_spec = {',
    ...ranges.slice(1).map(([first], i) => `    ${pyString(input.layers[first]?.name ?? `layer ${first}`)}: SplitPoint.BEGINNING,  # stage ${i + 1}: ${stageNames(input.layers, ranges[i + 1])}`),
    '}',
    'pipe = pipeline(model, mb_args=(example_microbatch,), split_spec=split_spec)',
    ...(multi
      ? [
          v > 1
            ? `# ${cls} takes the list of this rank's stages: ${v} model chunks per rank, rank r holding stages r, r + ${S}, …`
            : `# ${cls} takes the list of this rank's stages: here one per rank${p.schedule === 'zb-h1' ? " (ZB1P on one stage per rank is pipeprof's zb-h1; ScheduleZBVZeroBubble is another plan, two stages per rank in a V)" : ''}`,
          v > 1 ? `stages = [pipe.build_stage(i, device) for i in range(rank, ${S * v}, ${S})]` : 'stages = [pipe.build_stage(rank, device)]  # rank: this process\'s place in the pipeline group',
          `schedule = ${cls}(stages, n_microbatches=${p.microbatches}, loss_fn=loss_fn)`,
        ]
      : ['stage = pipe.build_stage(rank, device)  # rank: this process\'s place in the pipeline group', `schedule = ${cls}(stage, n_microbatches=${p.microbatches}, loss_fn=loss_fn)`]),
  ];
  if (!TORCH_SCHEDULES[p.schedule]) lines.push(`# note: the plan's schedule ${safe(p.schedule)} has no class here; Schedule1F1B is the nearest`);
  if (p.recompute !== 'never')
    lines.push(`# note: torch.distributed.pipelining has no recompute switch: for recompute ${safe(p.recompute)}, wrap each stage's layers in torch.utils.checkpoint`);
  return { format: 'torch-pipelining', ok: true, snippet: lines.join('\n'), problem: null, nearest: null };
}

/** The plan as `format` takes it; a plan the engine cannot run is `ok: false` with the reason and the nearest plan. */
export function exportPlan(format: ExportFormat, input: ExportInput): PlanExport {
  const p = input.plan;
  const L = p.balance.reduce((a, b) => a + b, 0);
  if (input.layers.length && L !== input.layers.length)
    throw new UsageError([`balance has ${L} layers but the model has ${input.layers.length} (balance: [${p.balance.join(',')}]); export a plan ranked for this model`]);
  if (!p.balance.length || p.balance.some((n) => !Number.isInteger(n) || n < 1))
    throw new UsageError([`balance must list at least one layer per stage (balance: [${p.balance.join(',')}]); export a plan from pipeprof recommend`]);
  const ok = (snippet: string): PlanExport => ({ format, ok: true, snippet, problem: null, nearest: null });
  switch (format) {
    case 'torchgpipe':
      return chunksProblem(format, 'torchgpipe', p) ?? { ...ok(torchgpipe(input)), nearest: p.schedule === 'gpipe' || p.schedule === '1f1b' ? null : { balance: p.balance, schedule: 'gpipe' } };
    case 'deepspeed':
      return chunksProblem(format, 'DeepSpeed', p) ?? { ...ok(deepspeed(input)), nearest: p.schedule === 'zb-h1' ? { balance: p.balance, schedule: '1f1b' } : null };
    case 'megatron':
      return megatron(input);
    case 'torch-pipelining':
      return torchPipelining(input);
  }
}
