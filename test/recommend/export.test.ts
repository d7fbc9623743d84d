// Plan exports on known balances: torchgpipe, DeepSpeed parts, Megatron flags (and the plans it cannot run), torch.distributed.pipelining.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../core/config/errors';
import type { LayerSummary } from '../../core/model/types';
import { summarizeLayers } from '../../core/model/types';
import { builtinModel } from '../../core/model/builtin';
import type { ExportPlan } from '../../core/recommend/export';
import { EXPORT_FORMATS, boundaries, exportPlan, nearestMegatronSplit, parseFormat, pyString, transformerBlocks } from '../../core/recommend/export';

/** The built-in transformer with 8 blocks: embedding, block_0 … block_7, head (10 layers). */
const transformer = summarizeLayers(builtinModel('transformer', { vocab: 64, dModel: 16, heads: 2, seqLen: 4, blocks: 8, ffn: 32 }));
/** mlp with 8 dense layers. */
const mlp = summarizeLayers(builtinModel('mlp', { width: 8, depth: 8 }));
const plan = (balance: number[], o: Partial<ExportPlan> = {}): ExportPlan => ({ balance, microbatches: 4, schedule: '1f1b', recompute: 'never', ...o });
const lines = (s: string | null) => (s ?? '').split('\n');

test('parseFormat takes the four formats and refuses anything else in one line that lists them', () => {
  for (const f of EXPORT_FORMATS) assert.equal(parseFormat(f), f);
  assert.throws(() => parseFormat('pippy'), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.deepEqual(e.problems, ['--format must be one of torchgpipe, deepspeed, megatron, torch-pipelining (got "pippy"); e.g. --format torchgpipe']);
    return true;
  });
});

test('boundaries are DeepSpeed parts; transformerBlocks counts blocks per stage without the embedding and head', () => {
  assert.deepEqual(boundaries([3, 3, 2]), [0, 3, 6, 8]);
  assert.deepEqual(boundaries([10]), [0, 10]);
  assert.deepEqual(transformerBlocks([5, 5], transformer), [4, 4]);
  assert.deepEqual(transformerBlocks([1, 5, 4], transformer), [0, 5, 3]);
  assert.deepEqual(transformerBlocks([10], transformer), [8]);
  assert.equal(transformerBlocks([4, 4], mlp), null);
});

test('torchgpipe: balance, chunks = M, checkpoint in torchgpipe\'s words; a note when the plan was not ranked with GPipe\'s schedule', () => {
  const e = exportPlan('torchgpipe', { plan: plan([3, 3, 2], { recompute: 'except-last', schedule: 'gpipe' }), layers: mlp, batch: 32 });
  assert.deepEqual({ ...e, snippet: null }, { format: 'torchgpipe', ok: true, snippet: null, problem: null, nearest: null });
  assert.ok(lines(e.snippet).includes("model = GPipe(model, balance=[3, 3, 2], chunks=4, checkpoint='except_last')"), e.snippet!);
  assert.ok(lines(e.snippet).includes('#   stage 0: dense_0 … dense_2 (3 layers)'));
  assert.ok(lines(e.snippet).includes('#   stage 2: dense_6, dense_7 (2 layers)'));
  assert.doesNotMatch(e.snippet!, /note/);
  for (const [recompute, name] of [['always', 'always'], ['never', 'never']])
    assert.match(exportPlan('torchgpipe', { plan: plan([4, 4], { recompute }), layers: mlp, batch: 32 }).snippet!, new RegExp(`checkpoint='${name}'\\)`));
  assert.match(exportPlan('torchgpipe', { plan: plan([4, 4]), layers: mlp, batch: 32 }).snippet!, /# note: the plan was ranked with the 1f1b schedule; torchgpipe always runs GPipe's/);
});

test('deepspeed: parts with DeepSpeed\'s semantics, a _partition_layers override for uneven cuts, the batch settings from M', () => {
  const e = exportPlan('deepspeed', { plan: plan([3, 3, 2], { recompute: 'always' }), layers: mlp, batch: 32 });
  const l = lines(e.snippet);
  assert.ok(l.includes('parts = [0, 3, 6, 8]'), e.snippet!);
  assert.ok(l.includes('class PlannedPipelineModule(PipelineModule):'));
  assert.ok(l.includes("    def _partition_layers(self, method='uniform'):"));
  assert.ok(l.includes('        self._set_bounds(start=self.parts[stage_id], stop=self.parts[stage_id + 1])'));
  assert.ok(l.includes('model = PlannedPipelineModule(layers=layers, num_stages=3, activation_checkpoint_interval=1)'));
  assert.ok(l.includes('ds_config = {"train_batch_size": 32, "train_micro_batch_size_per_gpu": 8, "gradient_accumulation_steps": 4}'));
  assert.doesNotMatch(e.snippet!, /partition_method='uniform'/);
  // Equal stages: partition_method='uniform' gives the same parts in every DeepSpeed version.
  const u = exportPlan('deepspeed', { plan: plan([4, 4], { microbatches: 8, schedule: 'gpipe' }), layers: mlp, batch: null });
  assert.ok(lines(u.snippet).includes("model = PipelineModule(layers=layers, num_stages=2, partition_method='uniform', activation_checkpoint_interval=0)"), u.snippet!);
  assert.ok(lines(u.snippet).includes('ds_config = {"gradient_accumulation_steps": 8}'));
  assert.match(u.snippet!, /# note: DeepSpeed runs its own 1F1B-style TrainSchedule/);
  assert.doesNotMatch(u.snippet!, /_partition_layers/);
});

test('megatron: transformer layers only, first/last flags for uneven ends, batch and recompute flags', () => {
  const even = exportPlan('megatron', { plan: plan([5, 5]), layers: transformer, batch: 8 });
  assert.equal(even.ok, true);
  assert.deepEqual(lines(even.snippet).filter((x) => x.startsWith('--')), [
    '--pipeline-model-parallel-size 2 \\',
    '--num-layers 8 \\',
    '--micro-batch-size 2 \\',
    '--global-batch-size 8',
  ]);
  // E,2 | 3 | 3,H: the middle stage is the even split of what the ends leave.
  const uneven = exportPlan('megatron', { plan: plan([3, 3, 4], { recompute: 'always', schedule: 'gpipe' }), layers: transformer, batch: 8 });
  assert.equal(uneven.ok, true);
  assert.deepEqual(lines(uneven.snippet).filter((x) => x.startsWith('--')), [
    '--pipeline-model-parallel-size 3 \\',
    '--num-layers 8 \\',
    '--decoder-first-pipeline-num-layers 2 \\',
    '--decoder-last-pipeline-num-layers 3 \\',
    '--micro-batch-size 2 \\',
    '--global-batch-size 8 \\',
    '--recompute-granularity full \\',
    '--recompute-method uniform \\',
    '--recompute-num-layers 1',
  ]);
  assert.match(uneven.snippet!, /# note: Megatron runs 1F1B \(it has no GPipe schedule\)/);
  const one = exportPlan('megatron', { plan: plan([10], { microbatches: 3 }), layers: transformer, batch: 8 });
  assert.deepEqual(lines(one.snippet).filter((x) => x.startsWith('--')), ['--pipeline-model-parallel-size 1 \\', '--num-layers 8']);
  assert.match(one.snippet!, /set --micro-batch-size and --global-batch-size so that global \/ \(micro × data-parallel size\) = 3 micro-batches/);
});

test('megatron cannot run unequal middle stages: one line, rule → values → fix, with the nearest plan it can run', () => {
  const e = exportPlan('megatron', { plan: plan([2, 3, 2, 3]), layers: transformer, batch: 8 });
  assert.equal(e.ok, false);
  assert.equal(e.snippet, null);
  assert.equal(lines(e.problem).length, 1);
  assert.equal(
    e.problem,
    'megatron: Megatron-LM splits the transformer layers between the first and last stage evenly over the middle stages (--decoder-first/last-pipeline-num-layers set only the ends), ' +
      "but this plan's middle stages hold 3, 2 (blocks per stage E,1|3|2|2,H, balance [2,3,2,3]); " +
      'the nearest plan it runs is balance [2,2,2,4]: check it with pipeprof simulate --balance 2,2,2,4, or pass --pipeline-model-parallel-layout "Et|t*3|t*2|t*2L" to a Megatron-Core that has it (experimental)',
  );
  assert.deepEqual(e.nearest, { balance: [2, 2, 2, 4] });
  // The nearest plan is one Megatron runs.
  assert.equal(exportPlan('megatron', { plan: plan(e.nearest!.balance), layers: transformer, batch: 8 }).ok, true);
});

test('megatron cannot run a stage of only the embedding or only the head, nor a model without transformer layers', () => {
  const e = exportPlan('megatron', { plan: plan([1, 5, 4]), layers: transformer, batch: 8 });
  assert.equal(e.ok, false);
  assert.match(e.problem!, /^megatron: Megatron-LM puts at least one transformer layer on the first and the last stage \(--decoder-first\/last-pipeline-num-layers must be > 0\), but this plan has 0 on the first and 3 on the last \(blocks per stage E,0\|5\|3,H, balance \[1,5,4\]\); the nearest plan it runs is balance \[2,4,4\]/);
  assert.deepEqual(nearestMegatronSplit([0, 5, 3]), [1, 4, 3]);
  assert.deepEqual(nearestMegatronSplit([3, 0]), [2, 1]);
  assert.equal(nearestMegatronSplit([0, 1, 0]), null, 'one block cannot fill three stages');
  const small = summarizeLayers(builtinModel('transformer', { vocab: 64, dModel: 16, heads: 2, seqLen: 4, blocks: 1, ffn: 32 }));
  const none = exportPlan('megatron', { plan: plan([1, 1, 1]), layers: small, batch: 8 });
  assert.match(none.problem!, /no split with one transformer layer per stage exists for 1 layers on 3 stages; use fewer stages, or pass --pipeline-model-parallel-layout "E\|t\|L"/);
  assert.equal(none.nearest, null);
  const m = exportPlan('megatron', { plan: plan([4, 4]), layers: mlp, batch: 8 });
  assert.deepEqual(m, {
    format: 'megatron', ok: false, snippet: null, nearest: null,
    problem: "megatron: Megatron-LM pipelines transformer layers between an embedding and an output layer, but this model's layers are dense; export it with --format torchgpipe, deepspeed or torch-pipelining instead",
  });
});

test('torch-pipelining: a SplitPoint.BEGINNING at the first layer of each later stage, the schedule class, n_microbatches', () => {
  const e = exportPlan('torch-pipelining', { plan: plan([3, 3, 4], { schedule: 'gpipe' }), layers: transformer, batch: 8 });
  const l = lines(e.snippet);
  assert.ok(l.includes('from torch.distributed.pipelining import SplitPoint, pipeline, ScheduleGPipe'), e.snippet!);
  assert.ok(l.includes('    "block_2": SplitPoint.BEGINNING,  # stage 1: block_2 … block_4 (3 layers)'));
  assert.ok(l.includes('    "block_5": SplitPoint.BEGINNING,  # stage 2: block_5 … head (4 layers)'));
  assert.ok(l.includes('# stage 0: embedding … block_1 (3 layers)'));
  assert.ok(l.includes('schedule = ScheduleGPipe(stage, n_microbatches=4, loss_fn=loss_fn)'));
  assert.match(e.snippet!, /pipeprof's\n# layer names: replace each with the module path of that layer in your model/);
  // One stage per rank: PipelineScheduleSingle takes the stage object itself.
  assert.match(exportPlan('torch-pipelining', { plan: plan([5, 5], { schedule: '1f1b' }), layers: transformer, batch: 8 }).snippet!, /^schedule = Schedule1F1B\(stage, n_microbatches=4/m);
  // PipelineScheduleMulti takes the list of the rank's stages: torch would raise on a single stage object.
  for (const [schedule, cls] of [['interleaved-1f1b', 'ScheduleInterleaved1F1B'], ['zb-h1', 'ScheduleInterleavedZeroBubble']]) {
    const snippet = exportPlan('torch-pipelining', { plan: plan([5, 5], { schedule }), layers: transformer, batch: 8 }).snippet!;
    assert.match(snippet, /^stages = \[pipe\.build_stage\(rank, device\)\]/m, snippet);
    assert.match(snippet, new RegExp(`^schedule = ${cls}\\(stages, n_microbatches=4`, 'm'));
    assert.doesNotMatch(snippet, /\(stage,/);
  }
  assert.match(exportPlan('torch-pipelining', { plan: plan([5, 5], { recompute: 'always' }), layers: transformer, batch: 8 }).snippet!, /# note: torch.distributed.pipelining has no recompute switch/);
});

test('names from a trace cannot break out of a string or a comment', () => {
  const layers: LayerSummary[] = mlp.map((l, i) => ({ ...l, name: i === 4 ? 'evil"\nimport os\u2028x' : l.name }));
  for (const format of EXPORT_FORMATS) {
    const e = exportPlan(format, { plan: plan([4, 4]), layers, batch: 8 });
    const text = e.snippet ?? e.problem ?? '';
    assert.ok(!lines(text).some((x) => x.startsWith('import os')), `${format}:\n${text}`);
    assert.ok(!text.includes('\u2028'), format);
  }
  assert.equal(pyString('a"b\\c\td é😀'), '"a\\"b\\\\c\\td \\u00e9\\U0001f600"');
  const t = exportPlan('torch-pipelining', { plan: plan([4, 4]), layers, batch: 8 });
  assert.ok(lines(t.snippet).includes('    "evil\\"\\nimport os\\u2028x": SplitPoint.BEGINNING,  # stage 1: evil" import os x … dense_7 (4 layers)'), t.snippet!);
});

test('a balance that does not cover the model is refused with the rule, the values and the fix', () => {
  assert.throws(() => exportPlan('torchgpipe', { plan: plan([3, 3]), layers: mlp, batch: 8 }), /^Error: balance has 6 layers but the model has 8 \(balance: \[3,3\]\); export a plan ranked for this model$/);
  assert.throws(() => exportPlan('deepspeed', { plan: plan([0, 8]), layers: mlp, batch: 8 }), /balance must list at least one layer per stage \(balance: \[0,8\]\)/);
});

test('zb-h1 in torch-pipelining: ScheduleInterleavedZeroBubble over the list of the rank\'s one stage, not ZBV; its rounds must divide M', () => {
  const e = exportPlan('torch-pipelining', { plan: plan([7, 3], { schedule: 'zb-h1', microbatches: 2 }), layers: transformer, batch: 8 });
  assert.equal(e.ok, true);
  assert.ok(lines(e.snippet).includes('schedule = ScheduleInterleavedZeroBubble(stages, n_microbatches=2, loss_fn=loss_fn)'), e.snippet!);
  assert.match(e.snippet!, /ScheduleZBVZeroBubble is another plan, two stages per rank in a V/);
  // Interleaved: the rank's v chunks, r, r + S, …
  const i = exportPlan('torch-pipelining', { plan: plan([3, 2, 3, 2], { schedule: 'interleaved-1f1b', chunks: 2 }), layers: transformer, batch: 8 });
  assert.ok(lines(i.snippet).includes('stages = [pipe.build_stage(i, device) for i in range(rank, 4, 2)]'), i.snippet!);
  // 7 micro-batches on 3 stages: torch runs ⌊7/3⌋ = 2 rounds, which do not divide 7.
  const bad = exportPlan('torch-pipelining', { plan: plan([4, 3, 3], { schedule: 'zb-h1', microbatches: 7 }), layers: transformer, batch: 14 });
  assert.equal(bad.ok, false);
  assert.equal(bad.problem, 'torch-pipelining: ScheduleInterleavedZeroBubble runs max(1, ⌊M/S⌋) rounds, which must divide M, but M = 7 on S = 3 stages gives 2 rounds; use 6 or 9 micro-batches (pipeprof simulate --microbatches 6)');
});

test('Megatron and DeepSpeed run 1F1B: a zb-h1 plan exports with a note saying so, the bubbles of both, and the nearest plan', () => {
  for (const format of ['megatron', 'deepspeed'] as const) {
    const e = exportPlan(format, { plan: plan([7, 3], { schedule: 'zb-h1', microbatches: 2 }), layers: transformer, batch: 8 });
    assert.equal(e.ok, true, format);
    assert.deepEqual(e.nearest, { balance: [7, 3], schedule: '1f1b' }, format);
    // S = 2, M = 2: 1F1B's (S−1)/(M+S−1) = 1/3; zb-h1's (S−1)/(3M+S−1) = 1/7.
    assert.match(e.snippet!, /^# note: .* has no zb-h1 schedule \(it does not split the backward into B and W\); this runs the nearest plan, the same balance with 1f1b: an analytic bubble of 33\.3% against the plan's 14\.3%/m, format);
    assert.equal(exportPlan(format, { plan: plan([7, 3], { schedule: '1f1b', microbatches: 2 }), layers: transformer, batch: 8 }).nearest, null, format);
  }
});

test('torchgpipe runs GPipe: "the same bubble" only for 1f1b; zb-h1 and interleaved plans get their bubble against GPipe\'s', () => {
  const one = exportPlan('torchgpipe', { plan: plan([5, 5], { schedule: '1f1b' }), layers: transformer, batch: 8 });
  assert.match(one.snippet!, /the same bubble, more activation memory/);
  const zb = exportPlan('torchgpipe', { plan: plan([7, 3], { schedule: 'zb-h1', microbatches: 2 }), layers: transformer, batch: 8 });
  assert.doesNotMatch(zb.snippet!, /the same bubble/);
  assert.match(zb.snippet!, /the same balance with gpipe, an analytic bubble of 33\.3% against the plan's 14\.3%/);
  assert.deepEqual(zb.nearest, { balance: [7, 3], schedule: 'gpipe' });
  // Model chunks: neither torchgpipe nor DeepSpeed has them; the nearest plan joins each stage's chunks.
  for (const format of ['torchgpipe', 'deepspeed'] as const) {
    const e = exportPlan(format, { plan: plan([3, 2, 3, 2], { schedule: 'interleaved-1f1b', chunks: 2 }), layers: transformer, batch: 8 });
    assert.equal(e.ok, false);
    assert.deepEqual(e.nearest, { balance: [5, 5], schedule: '1f1b' });
    assert.match(e.problem!, /runs one model chunk per stage, but this plan has 2 per stage \(balance \[3,2,3,2\] lists 4 virtual stages\); the nearest plan it runs is balance \[5,5\] with 1f1b/);
  }
});

test('--format is read in any case', () => {
  assert.equal(parseFormat('Torch-Pipelining'), 'torch-pipelining');
  assert.equal(parseFormat('DEEPSPEED'), 'deepspeed');
});
