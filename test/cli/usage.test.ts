// The CLI on bad input: exit code 2, one line per problem, nothing written; help lists every flag with its default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, tmpdir } from '../helpers';

test('invalid flags: one line per problem, exit 2, no trace written', async () => {
  const dir = tmpdir();
  const out = path.join(dir, 't.pptrace.json');
  const r = await cli(['capture', '--stages', '0', '--schedule', 'zigzag', '--batch', '30', '--microbatches', '4', '--out', out]);
  assert.equal(r.code, 2);
  const lines = r.err.trim().split('\n');
  assert.deepEqual(lines, [
    'pipeprof: --stages must be a positive integer (got 0); set stages to a whole number above 0',
    'pipeprof: --schedule must be one of gpipe, 1f1b, interleaved-1f1b, zb-h1 (got "zigzag"); use gpipe or 1f1b or interleaved-1f1b or zb-h1',
  ]);
  assert.equal(fs.existsSync(out), false);
});

test('cross-field problems come after the per-field ones pass: balance sum, batch vs micro-batches', async () => {
  const dir = tmpdir();
  const out = path.join(dir, 't.pptrace.json');
  const r = await cli(['capture', '--model', 'mlp', '--balance', '3,3,3', '--batch', '30', '--microbatches', '4', '--out', out]);
  assert.equal(r.code, 2);
  assert.deepEqual(r.err.trim().split('\n'), [
    'pipeprof: --balance has 9 layers but the model has 8 (balance: [3,3,3]); use --balance 3,3,2 or --stages 3',
    'pipeprof: --batch 30 is not divisible by microbatches 4; use --microbatches 3 (divisors of 30: 1, 2, 3, 5, 6, 10, 15, 30)',
  ]);
  assert.equal(fs.existsSync(out), false);
});

test('a config file: problems name the file and field; flags override it', async () => {
  const dir = tmpdir();
  const cfg = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ model: 'mlp', stages: 12, optimizer: 'lbfgs' }));
  const r = await cli(['capture', cfg]);
  assert.equal(r.code, 2);
  assert.equal(r.err.trim(), `pipeprof: ${cfg}: optimizer must be one of sgd, momentum, nesterov, adam, pprs (got "lbfgs"); use sgd, momentum, nesterov, adam, pprs`);
  fs.writeFileSync(cfg, JSON.stringify({ model: 'mlp', stages: 12 }));
  const r2 = await cli(['capture', cfg]);
  assert.equal(r2.err.trim(), `pipeprof: ${cfg}: stages is 12 but the model has only 8 layers, and a stage needs at least one; use --stages 8 or fewer`);
  fs.writeFileSync(cfg, '// comments and trailing commas are fine\n{"model": "mlp", "stages": 9, "balance": [3, 3, 3],}');
  const r4 = await cli(['capture', cfg]);
  assert.match(r4.err, /balance has 9 layers but the model has 8/, 'a commented config is read');
  fs.writeFileSync(cfg, '{"model": "mlp",\n "stages": 2 2}');
  const r3 = await cli(['capture', cfg]);
  assert.equal(r3.code, 2);
  assert.match(r3.err, new RegExp(`^pipeprof: ${cfg.replace(/[.]/g, '\\.')}: is not valid JSON \\(CommaExpected at line 2, column 14\\)`));
});

test('unknown model, missing model file, unknown flag: exit 2 with one clear line', async () => {
  const a = await cli(['capture', '--model', 'resnet']);
  assert.equal(a.code, 2);
  assert.match(a.err, /--model must be a built-in model .* \(got "resnet"\); use one of mlp, cnn, transformer or a path ending in \.json/);
  const b = await cli(['capture', '--model', '/nonexistent/model.json']);
  assert.equal(b.code, 2);
  assert.match(b.err, /\/nonexistent\/model\.json: model file not found/);
  const c = await cli(['capture', '--stagez', '2']);
  assert.equal(c.code, 2);
  assert.match(c.err, /unknown option '--stagez'/);
});

test('a missing optional backend names the package to install', async () => {
  const r = await cli(['capture', '--backend', 'tensorflow-gpu']);
  assert.equal(r.code, 2);
  assert.match(r.err, /backend tensorflow-gpu needs @tensorflow\/tfjs-node-gpu, which is not installed; run `npm install @tensorflow\/tfjs-node-gpu` or use --backend wasm/);
});

test('help lists every capture flag with its default', async () => {
  const r = await cli(['capture', '--help']);
  assert.equal(r.code, 0);
  const help = r.out.replace(/\n\s{10,}/g, ' '); // join wrapped descriptions
  for (const flag of ['--model', '--stages', '--balance', '--microbatches', '--batch', '--schedule', '--recompute', '--steps', '--warmup', '--optimizer', '--lr', '--backend', '--seed', '--out', '--save-weights', '--json'])
    assert.match(help, new RegExp(`${flag}[^\\n]*\\(default: [^)]+\\)`), `${flag} shows its default`);
  const top = await cli(['--help']);
  assert.match(top.out, /capture \[options\] \[config\]/);
  assert.match(top.out, /demo/);
});

test('pipeprof with no command prints the usage on stderr and exits 2', async () => {
  const r = await cli([]);
  assert.equal(r.code, 2);
  assert.match(r.err, /^Usage: pipeprof \[options\] \[command\]/);
  assert.match(r.err, /capture \[options\] \[config\]/);
  assert.equal((await cli(['--help'])).code, 0, '--help asked for is not an error');
});

test('a default that breaks a rule is named once, as the default: "the default batch 32", not "batch (default 32) 32"', async () => {
  const r = await cli(['capture', '--microbatches', '5', '--out', path.join(tmpdir(), 't.pptrace.json')]);
  assert.equal(r.code, 2);
  assert.equal(r.err.trim(), 'pipeprof: the default batch 32 is not divisible by microbatches 5; use --microbatches 4 (divisors of 32: 1, 2, 4, 8, 16, 32)');
});

test('schedules and other choices are read in any case, in flags and config files alike', async () => {
  const dir = tmpdir();
  const cfg = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ model: 'mlp', schedule: 'GPipe', recompute: 'NEVER', optimizer: 'SGD' }));
  // A cross-field problem is the only one left: the choices passed, spelled as they were.
  const r = await cli(['capture', cfg, '--schedule', '1F1B', '--sync', 'Step', '--batch', '30', '--microbatches', '4']);
  assert.equal(r.code, 2);
  assert.deepEqual(r.err.trim().split('\n'), ['pipeprof: --batch 30 is not divisible by microbatches 4; use --microbatches 3 (divisors of 30: 1, 2, 3, 5, 6, 10, 15, 30)']);
  const { mergeConfig } = await import('../../core/config/capture-config');
  const merged = mergeConfig({ schedule: 'GPipe' as never, optimizer: 'SGD' as never }, { schedule: 'ZB-H1' as never, backend: 'WASM' as never });
  assert.deepEqual([merged.schedule, merged.optimizer, merged.backend], ['zb-h1', 'sgd', 'wasm']);
  const bad = await cli(['capture', '--schedule', '1f2b']);
  assert.match(bad.err, /--schedule must be one of gpipe, 1f1b, interleaved-1f1b, zb-h1 \(got "1f2b"\)/);
});

test('capture over an earlier default run.pptrace.json says so on stderr; the progress lines number steps as the trace and report do', async () => {
  const dir = tmpdir();
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const cfg = path.join(dir, 'tiny.config.json');
    fs.writeFileSync(cfg, JSON.stringify({ model: { name: 'mlp', width: 16, depth: 4 }, stages: 2, batch: 8, microbatches: 2, steps: 2, warmup: 1 }));
    const first = await cli(['capture', cfg]);
    assert.equal(first.code, 0, first.err);
    assert.doesNotMatch(first.err, /exists/);
    assert.ok(fs.existsSync(path.join(dir, 'run.pptrace.json')));
    // Steps 0 (warm-up), 1 and 2, as the trace numbers them.
    const steps = [...first.err.matchAll(/^capture \[[█░]+\] (\d)\/3 step (\d)( \(warm-up\))?/gm)].map((m) => [Number(m[1]), Number(m[2]), !!m[3]]);
    assert.deepEqual(steps, [[1, 0, true], [2, 1, false], [3, 2, false]]);
    const trace = JSON.parse(fs.readFileSync(path.join(dir, 'run.pptrace.json'), 'utf8'));
    assert.deepEqual(trace.pipeprof.steps.map((s: { step: number; warmup: boolean }) => [s.step, s.warmup]), [[0, true], [1, false], [2, false]]);
    const second = await cli(['capture', cfg, '--quiet']);
    assert.equal(second.code, 0);
    assert.equal(second.err, 'pipeprof: run.pptrace.json exists (an earlier capture); this run replaces it: give --out <file> to keep both\n');
    const third = await cli(['capture', cfg, '--quiet', '--out', 'run.pptrace.json']);
    assert.equal(third.err, '', 'an --out given on purpose is not warned about');
  } finally {
    process.chdir(cwd);
  }
});
