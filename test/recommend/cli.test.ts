// `pipeprof recommend` end to end on a captured trace: JSON and text output, bad flags, memory limits, --format exports, and --apply keeping the config file's comments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CommanderError } from 'commander';
import { parse } from 'jsonc-parser';
import { buildProgram } from '../../cli/main';
import { registerRecommend, parseBytes } from '../../cli/recommend';
import { applyPlanToConfig, removeField, setField } from '../../core/config/apply-plan';
import { readConfigFile } from '../../cli/capture';
import { checkFields } from '../../core/config/capture-config';
import { UsageError } from '../../core/config/errors';
import { cli, tmpdir } from '../helpers';
import { smallRun } from '../runtime/run';
import { boundaries, transformerBlocks } from '../../core/recommend/export';
import { summarizeLayers } from '../../core/model/types';
import { builtinModel } from '../../core/model/builtin';
import { SMALL } from '../runtime/run';

/** Runs `pipeprof recommend ...` in-process; registers the command itself until cli/main.ts does. */
async function recommendCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), errIsTTY: false };
  const program = buildProgram(io);
  if (program.commands.some((c) => c.name() === 'recommend')) return cli(argv);
  registerRecommend(program, io);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  let code = 0;
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) code = e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
    else if (e instanceof UsageError) {
      for (const p of e.problems) io.err(`pipeprof: ${p}\n`);
      code = 2;
    } else throw e;
  }
  return { code, out, err };
}

let traceFile: string | undefined;
/** One small transformer trace shared by the tests (two stages, uniform balance). */
async function trace(): Promise<string> {
  if (traceFile) return traceFile;
  const { trace: t } = await smallRun('transformer', { balance: [2, 2], microbatches: 2 }, { steps: 3, warmup: 1 });
  traceFile = path.join(tmpdir(), 'small.pptrace.json');
  fs.writeFileSync(traceFile, JSON.stringify(t));
  return traceFile;
}

test('--json lists plans best first with exactly the documented fields', async () => {
  const r = await recommendCli(['recommend', await trace(), '--json', '--top', '4']);
  assert.equal(r.code, 0, r.err);
  const { plans, traced, keepTraced } = JSON.parse(r.out);
  assert.equal(plans.length, 4);
  assert.ok(traced.predictedStepTimeMs > 0 && traced.measuredStepTimeMs > 0 && traced.intervalRelative > 0);
  // The traced plan comes first exactly when no other plan's gain is beyond its interval.
  assert.equal(keepTraced, plans[0].traced === true);
  assert.equal(keepTraced, !plans.some((p: { faster: boolean }) => p.faster));
  for (const p of plans) {
    const keys = ['balance', 'microbatches', 'schedule', 'recompute', 'replicas', 'predictedStepTimeMs', 'intervalRelative', 'speedup', 'faster', 'peakMemoryBytes', 'layout'];
    assert.deepEqual(Object.keys(p), p.traced ? [...keys, 'traced'] : keys);
    assert.equal(p.faster, p.speedup - 1 > p.intervalRelative);
    assert.equal(p.balance.reduce((a: number, b: number) => a + b, 0), 4);
    assert.equal(p.balance.length, 2);
    assert.match(p.layout, /^E(,\d)?\|(\d,)?H$/);
  }
  const others = plans.filter((p: { traced?: boolean }) => !p.traced);
  for (let i = 1; i < others.length; i++) assert.ok(others[i - 1].predictedStepTimeMs <= others[i].predictedStepTimeMs * (1 + 1e-9));
  const three = JSON.parse((await recommendCli(['recommend', await trace(), '--json', '--stages', '3'])).out).plans;
  assert.ok(three.length > 0 && three.every((p: { balance: number[] }) => p.balance.length === 3));
});

test('text output: one row per plan with layout, balance, step time, speedup, bubble and peak memory', async () => {
  const r = await recommendCli(['recommend', await trace(), '--top', '3', '--memory-limit', '1GiB']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.match(lines[0], /^traced plan  balance \[2,2\], 2 micro-batches, 1f1b, recompute never: [\d.]+ ms per step \(median, measured\)$/);
  assert.ok(lines.includes('memory limit 1.00 GiB per stage'));
  const header = lines.findIndex((l) => l.startsWith('#  layout'));
  assert.match(lines[header], /^#\s+layout\s+balance\s+M\s+schedule\s+recompute\s+predicted ms\s+±\s+speedup\s+vs traced\s+bubble\s+peak memory$/);
  const rows = lines.slice(header + 1, header + 4);
  assert.equal(rows.length, 3);
  for (const [i, row] of rows.entries()) assert.match(row, new RegExp(`^${i + 1}\\s+E\\S*H\\s+\\[[\\d,]+\\]\\s+\\d+\\s+(gpipe|1f1b|zb-h1|interleaved-1f1b)\\s+(never|except-last|always)\\s+[\\d.]+\\s+[\\d.]+%\\s+[\\d.]+x\\s+(faster|within noise|traced plan)\\s+[\\d.]+%\\s+[\\d.]+ [KMG]iB$`));
  // Every plan said to be faster is faster by more than its interval; otherwise the traced plan is kept and the text says so.
  if (rows[0].includes('traced plan')) assert.match(r.out, /^keep the traced plan: it is already within noise of the best plan found .*; run with --verify 3 to measure the top plans against it side by side$/m);
});

test('bad flags and a memory limit below every plan: exit 2 with one line each, nothing printed on stdout', async () => {
  const t = await trace();
  const bad = await recommendCli(['recommend', t, '--memory-limit', 'lots']);
  assert.equal(bad.code, 2);
  assert.equal(bad.err, 'pipeprof: --memory-limit must be a positive size such as 4GiB, 512MiB or 1e9 (bytes) (got "lots"); write a number with an optional unit B, KB, MB, GB, KiB, MiB or GiB\n');
  assert.equal(bad.out, '');
  const two = await recommendCli(['recommend', t, '--memory-limit', '-3GiB', '--stages', 'x']);
  assert.equal(two.code, 2);
  assert.equal(two.err.trim().split('\n').length, 2);
  assert.match(two.err, /--stages must be a positive integer \(got "x"\); e\.g\. --stages 2/);
  const low = await recommendCli(['recommend', t, '--memory-limit', '1KiB']);
  assert.equal(low.code, 2);
  assert.equal(low.err.split('\n').length, 2, low.err);
  assert.match(low.err, /^pipeprof: memory limit 1\.00 KiB is below the peak memory of every plan tried \(the least is [\d.]+ [KMG]iB: balance \[[\d,]+\], \d+ micro-batches, \S+, recompute \S+\); raise --memory-limit to at least [\d.]+ [KMG]iB or use more --stages\n$/);
  const many = await recommendCli(['recommend', t, '--stages', '9']);
  assert.equal(many.code, 2);
  assert.equal(many.err, 'pipeprof: stages is 9 but the model has only 4 layers, and a stage needs at least one; use --stages 4 or fewer\n');
  // A broken --apply target fails before any work: nothing printed, the file untouched.
  const broken = path.join(tmpdir(), 'pipeprof.config.json');
  fs.writeFileSync(broken, '{"model": "mlp",');
  const apply = await recommendCli(['recommend', t, '--apply', broken]);
  assert.equal(apply.code, 2);
  assert.equal(apply.out, '');
  assert.match(apply.err, /^pipeprof: .*pipeprof\.config\.json: is not valid JSON \(\w+ at offset \d+\); fix the syntax, or give --apply a new file\n$/);
  assert.equal(fs.readFileSync(broken, 'utf8'), '{"model": "mlp",');
  const nowhere = await recommendCli(['recommend', t, '--apply', '/nonexistent/dir/c.json']);
  assert.equal(nowhere.code, 2);
  assert.equal(nowhere.err, 'pipeprof: /nonexistent/dir/c.json: folder /nonexistent/dir does not exist; create it or give --apply another path\n');
  const missing = await recommendCli(['recommend', path.join(tmpdir(), 'nope.pptrace.json')]);
  assert.equal(missing.code, 2);
  assert.equal(missing.err.split('\n').length, 2);
});

test('sizes: binary and decimal units, plain bytes in any notation', () => {
  assert.equal(parseBytes('4GiB'), 4 * 2 ** 30);
  assert.equal(parseBytes('512MiB'), 512 * 2 ** 20);
  assert.equal(parseBytes('1e9'), 1e9);
  assert.equal(parseBytes('1.5 GB'), 1.5e9);
  assert.equal(parseBytes('64k'), 64e3);
  assert.equal(parseBytes('100b'), 100);
  for (const s of ['', 'GiB', '4 GiBs', '0', '-1', '1e999', '4XB']) assert.throws(() => parseBytes(s), UsageError, s);
});

const CONFIG = `{
  // Shared settings for the team: do not drop this comment.
  "$schema": "../schema/pipeprof.config.schema.json",
  "model": {"name": "transformer", "vocab": 96, "dModel": 32, "heads": 2, "seqLen": 8, "blocks": 2, "ffn": 64},
  "stages": 3,          /* stale: the balance will replace it */
  "microbatches": 1,
  "batch": 8,
  "optimizer":   "momentum",
  "steps": 3 // quick runs
}
`;

/** The text without the plan's fields (and stages): what must be left of a file after --apply is undone. */
function withoutPlan(text: string): string {
  let t = text;
  for (const k of ['balance', 'microbatches', 'schedule', 'recompute', 'stages']) t = removeField(t, k);
  return t;
}

test('--apply writes the best plan into the config, keeping comments, order and formatting; undoing it by content gives the file back', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(file, CONFIG);
  const r = await recommendCli(['recommend', await trace(), '--json', '--apply', file]);
  assert.equal(r.code, 0, r.err);
  const best = JSON.parse(r.out).plans[0];
  assert.match(r.err, new RegExp(`^updated ${file.replace(/[.]/g, '\\.')}: balance \\[${best.balance.join(',')}\\]`));
  const text = fs.readFileSync(file, 'utf8');
  const cfg = parse(text);
  assert.deepEqual({ balance: cfg.balance, microbatches: cfg.microbatches, schedule: cfg.schedule, recompute: cfg.recompute }, {
    balance: best.balance, microbatches: best.microbatches, schedule: best.schedule, recompute: best.recompute,
  });
  assert.equal(cfg.stages, undefined, 'a conflicting stages is removed');
  // Comments and untouched lines are byte-for-byte the same; the new balance sits on one line.
  for (const line of ['  // Shared settings for the team: do not drop this comment.', '  "optimizer":   "momentum",', '  "model": {"name": "transformer", "vocab": 96, "dModel": 32, "heads": 2, "seqLen": 8, "blocks": 2, "ffn": 64},'])
    assert.ok(text.includes(line), `kept: ${line}`);
  assert.match(text, /"steps": 3,? \/\/ quick runs\n/);
  assert.ok(text.includes(`"balance": [${best.balance.join(', ')}]`));
  // Undo by content: without the plan's fields both files are the same text.
  assert.equal(withoutPlan(text), withoutPlan(CONFIG));
  // The old values are gone and every field still passes the config rules.
  assert.ok(!/"stages"/.test(text));
  assert.deepEqual(checkFields(cfg, (f) => f), []);
  assert.deepEqual(fs.readdirSync(dir), ['pipeprof.config.json'], 'no temporary file left behind');
});

test('--apply creates a missing config file that capture accepts, naming the traced model and batch', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'new.config.json');
  const r = await recommendCli(['recommend', await trace(), '--top', '1', '--apply', file]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`\\ncreated ${file.replace(/[.]/g, '\\.')}: balance \\[\\d,\\d\\], \\d+ micro-batches`));
  const cfg = readConfigFile(file);
  assert.equal(cfg.batch, 8);
  assert.deepEqual(cfg.model, { name: 'transformer', vocab: 96, dModel: 32, heads: 2, seqLen: 8, blocks: 2, ffn: 64 });
  assert.equal(cfg.balance!.length, 2);
});

test('editing config text: tabs and CRLF kept, an agreeing stages stays, one-line objects stay on one line, bad JSON is a usage error', () => {
  const plan = { balance: [3, 1], microbatches: 4, schedule: '1f1b' as const, recompute: 'never' as const };
  assert.equal(applyPlanToConfig('{\r\n\t"stages": 2,\r\n\t"batch": 16\r\n}\r\n', plan, 'c.json'),
    '{\r\n\t"stages": 2,\r\n\t"batch": 16,\r\n\t"balance": [3, 1],\r\n\t"microbatches": 4,\r\n\t"schedule": "1f1b",\r\n\t"recompute": "never"\r\n}\r\n');
  assert.equal(applyPlanToConfig('{"model": "mlp", "stages": 4}', plan, 'c.json'), '{"model": "mlp", "balance": [3, 1], "microbatches": 4, "schedule": "1f1b", "recompute": "never"}');
  assert.equal(applyPlanToConfig('{}', plan, 'c.json'), '{\n  "balance": [3, 1],\n  "microbatches": 4,\n  "schedule": "1f1b",\n  "recompute": "never"\n}');
  // The last field removed with its comment; its predecessor loses the comma; a replaced value keeps its place and comment.
  assert.equal(removeField('{\n  "a": 1,\n  "stages": 3 // old\n}\n', 'stages'), '{\n  "a": 1\n}\n');
  assert.equal(setField('{\n  "balance": [1,\n    2], // mine\n  "a": 1\n}\n', 'balance', [2, 1]), '{\n  "balance": [2, 1], // mine\n  "a": 1\n}\n');
  assert.throws(() => applyPlanToConfig('{"model": "mlp",', plan, 'c.json'), /c\.json: is not valid JSON \(\w+ at offset \d+\); fix the syntax, or give --apply a new file/);
  assert.throws(() => applyPlanToConfig('[1, 2]', plan, 'c.json'), /c\.json: must hold a JSON object/);
});

test('help lists every option with its default', async () => {
  const r = await recommendCli(['recommend', '--help']);
  assert.equal(r.code, 0);
  // Commander wraps long descriptions: join each option with its continuation lines.
  const options = r.out.split('\n').reduce<string[]>((acc, l) => {
    if (/^\s+-/.test(l)) acc.push(l);
    else if (/^\s{6,}\S/.test(l) && acc.length) acc[acc.length - 1] += ` ${l.trim()}`;
    return acc;
  }, []).filter((l) => !/--help/.test(l));
  assert.deepEqual(options.map((l) => l.trim().split(/\s+/)[0]), ['--layers', '--memory-limit', '--stages', '--workers', '--top', '--json', '--format', '--verify', '--apply']);
  for (const l of options) assert.match(l, /\(default: [^)]+\)/, l);
});

/** The traced model's layers (the small transformer of trace(): embedding, block_0, block_1, head). */
const smallTransformer = () => summarizeLayers(builtinModel('transformer', SMALL.transformer));

test('--format: an unknown format is refused before the trace is read, in one line that lists the formats', async () => {
  const r = await recommendCli(['recommend', path.join(tmpdir(), 'nope.pptrace.json'), '--format', 'pippy']);
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.equal(r.err, 'pipeprof: --format must be one of torchgpipe, deepspeed, megatron, torch-pipelining (got "pippy"); e.g. --format torchgpipe\n');
});

test('--format torchgpipe: the table, then the export of plan #1 under it', async () => {
  const r = await recommendCli(['recommend', await trace(), '--top', '3', '--format', 'torchgpipe']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  const first = lines[lines.findIndex((l) => l.startsWith('#  layout')) + 1];
  const [, balance, M, schedule, recompute] = /^1\s+\S+\s+\[(\d,\d)\]\s+(\d+)\s+(\S+)\s+(\S+)/.exec(first)!;
  const at = lines.indexOf(`torchgpipe export of plan #1 (balance [${balance}], ${M} micro-batches, ${schedule}, recompute ${recompute}):`);
  assert.ok(at > 0, r.out);
  const checkpoint = { never: 'never', always: 'always', 'except-last': 'except_last' }[recompute];
  assert.ok(lines.slice(at).includes(`model = GPipe(model, balance=[${balance.replace(',', ', ')}], chunks=${M}, checkpoint='${checkpoint}')`), r.out);
  assert.ok(lines.slice(at).some((l) => /^#\s+stage 0: embedding/.test(l)));
  // One export only: the top plan's.
  assert.equal(lines.filter((l) => l.includes(' export of plan #')).length, 1);
});

test('--json --format: every plan gets an export; deepspeed parts and megatron flags follow each balance, or say why not', async () => {
  const layers = smallTransformer();
  const ds = JSON.parse((await recommendCli(['recommend', await trace(), '--json', '--top', '4', '--format', 'deepspeed'])).out).plans;
  assert.equal(ds.length, 4);
  for (const p of ds) {
    assert.deepEqual(Object.keys(p.export), ['format', 'ok', 'snippet', 'problem', 'nearest']);
    assert.equal(p.export.ok, true);
    assert.ok(p.export.snippet.split('\n').includes(`parts = [${boundaries(p.balance).join(', ')}]`), p.export.snippet);
    assert.ok(p.export.snippet.includes(`"train_batch_size": 8, "train_micro_batch_size_per_gpu": ${8 / p.microbatches}, "gradient_accumulation_steps": ${p.microbatches}`));
  }
  const mg = JSON.parse((await recommendCli(['recommend', await trace(), '--json', '--top', '5', '--format', 'megatron'])).out).plans;
  for (const p of mg) {
    const blocks = transformerBlocks(p.balance, layers)!;
    // Two blocks on two stages: Megatron runs only [1 | 1], i.e. balance [2,2].
    assert.equal(p.export.ok, blocks[0] > 0 && blocks[1] > 0, JSON.stringify(p));
    if (p.export.ok) {
      assert.equal(p.export.problem, null);
      assert.match(p.export.snippet, /^--pipeline-model-parallel-size 2 \\\n--num-layers 2 \\$/m);
    } else {
      assert.equal(p.export.snippet, null);
      assert.equal(p.export.problem.split('\n').length, 1);
      assert.match(p.export.problem, /^megatron: Megatron-LM puts at least one transformer layer on the first and the last stage/);
      assert.deepEqual(p.export.nearest, { balance: [2, 2] });
    }
  }
  // Text: plan #1's export, or why not and then the best listed plan Megatron runs (the ranking is deterministic).
  const text = (await recommendCli(['recommend', await trace(), '--top', '5', '--format', 'megatron'])).out;
  const k = mg.findIndex((p: { export: { ok: boolean } }) => p.export.ok);
  if (k === 0) assert.match(text, /\nmegatron export of plan #1 \(balance \[2,2\],[^\n]*\):\n# Megatron-LM: transformer layers per stage 1, 1 /);
  else {
    assert.ok(text.includes(`\n${mg[0].export.problem}\n`), text);
    if (k > 0) assert.ok(text.includes(`\nmegatron export of plan #${k + 1}, the best listed plan it can run (balance [2,2], `), text);
    else assert.ok(text.endsWith('no listed plan can be exported to megatron; list more with --top\n'), text);
  }
  const tp = JSON.parse((await recommendCli(['recommend', await trace(), '--json', '--top', '2', '--format', 'torch-pipelining'])).out).plans;
  for (const p of tp) assert.ok(p.export.snippet.includes(`"${layers[p.balance[0]].name}": SplitPoint.BEGINNING,`), p.export.snippet);
});

test('--format megatron on a model without transformer layers: why, in one line, and no listed plan to fall back on', async () => {
  const { trace: t } = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { steps: 2, warmup: 1 });
  const file = path.join(tmpdir(), 'mlp.pptrace.json');
  fs.writeFileSync(file, JSON.stringify(t));
  const r = await recommendCli(['recommend', file, '--top', '2', '--format', 'megatron']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /\nmegatron export of plan #1 \(balance \[\d,\d\], \d+ micro-batches, \S+, recompute \S+\):\nmegatron: Megatron-LM pipelines transformer layers between an embedding and an output layer, but this model's layers are dense; export it with --format torchgpipe, deepspeed or torch-pipelining instead\nno listed plan can be exported to megatron; list more with --top\n$/);
});

test('--workers searches stages × replicas and the sync mode; --apply writes the replicas', async () => {
  const dir = tmpdir('pipeprof-workers-');
  try {
    const trace = path.join(dir, 'run.pptrace.json');
    const cap = await cli(['capture', '--model', 'mlp', '--stages', '2', '--batch', '16', '--microbatches', '2', '--steps', '3', '--warmup', '1', '--out', trace, '--quiet']);
    assert.equal(cap.code, 0, cap.err);
    const r = await cli(['recommend', trace, '--workers', '2', '--top', '500', '--json']);
    assert.equal(r.code, 0, r.err);
    const plans = JSON.parse(r.out).plans as { balance: number[]; replicas: number; sync?: { sync: string } }[];
    assert.ok(plans.every((p) => (p.balance.length / ((p as { chunks?: number }).chunks ?? 1)) * p.replicas === 2));
    assert.ok(plans.some((p) => p.replicas === 2 && p.sync?.sync === 'layerwise') && plans.some((p) => p.replicas === 1));
    const best = plans[0];
    const cfg = path.join(dir, 'pipeprof.config.json');
    assert.equal((await cli(['recommend', trace, '--workers', '2', '--apply', cfg])).code, 0);
    const written = JSON.parse(fs.readFileSync(cfg, 'utf8'));
    assert.deepEqual(written.balance, best.balance);
    if (best.replicas > 1) assert.equal(written.replicas, best.replicas);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--verify N runs the top N plans for real and ranks them by measured step time; --apply writes the fastest measured', async () => {
  const dir = tmpdir('pipeprof-verify-');
  const trace = path.join(dir, 'run.pptrace.json');
  const cap = await cli(['capture', '--model', 'mlp', '--stages', '2', '--batch', '16', '--microbatches', '2', '--steps', '2', '--warmup', '1', '--out', trace, '--quiet']);
  assert.equal(cap.code, 0, cap.err);
  const r = await cli(['recommend', trace, '--verify', '2', '--top', '3', '--json']);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { keepTraced: boolean; traced: { verifiedStepTimeMs: number }; plans: { traced?: boolean; measuredStepTimeMs?: number; measuredSpeedup?: { median: number; min: number; max: number } }[] };
  const { plans } = out;
  assert.equal(plans.length, 3);
  // The traced plan was measured in the same rounds; each verified plan's measured speedup over it has a range.
  assert.ok(out.traced.verifiedStepTimeMs > 0);
  const measured = plans.filter((p) => p.measuredStepTimeMs !== undefined);
  assert.equal(measured.length, 2);
  for (const p of measured) assert.ok(p.measuredSpeedup!.min <= p.measuredSpeedup!.median && p.measuredSpeedup!.median <= p.measuredSpeedup!.max);
  assert.ok(measured[0].measuredStepTimeMs! <= measured[1].measuredStepTimeMs!, 'verified plans come fastest measured first');
  // Never a plan that measured slower than the traced one: when none beat it, the traced plan comes first.
  if (out.keepTraced) assert.ok(plans[0].traced === true && measured[0].measuredStepTimeMs! >= out.traced.verifiedStepTimeMs);
  else assert.ok(plans[0].measuredStepTimeMs! < out.traced.verifiedStepTimeMs);
  const bad = await cli(['recommend', trace, '--verify', 'x']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--verify must be a positive integer/);
});
