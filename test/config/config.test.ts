// Configuration: merging defaults < file < flags, every rule's one-line message, and the shipped JSON Schema in step with them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CAPTURE_DEFAULTS, CONFIG_FIELDS, checkFields, mergeConfig, resolveBalance } from '../../core/config/capture-config';
import { uniformBalance } from '../../core/plan/partition';
import { ROOT } from '../helpers';

const src = (f: string) => `--${f}`;

test('flags override the file, the file overrides defaults; balance and stages replace each other', () => {
  const c = mergeConfig({ microbatches: 8, stages: 4, schedule: 'gpipe' }, { microbatches: 2 });
  assert.equal(c.microbatches, 2);
  assert.equal(c.schedule, 'gpipe');
  assert.equal(c.stages, 4);
  assert.equal(c.batch, CAPTURE_DEFAULTS.batch);
  const b = mergeConfig({ stages: 4 }, { balance: [3, 3, 2] });
  assert.deepEqual(b.balance, [3, 3, 2]);
  assert.equal(b.stages, undefined);
});

test('uniform balance gives the remainder to the first stages', () => {
  assert.deepEqual(uniformBalance(8, 3), [3, 3, 2]);
  assert.deepEqual(uniformBalance(8, 2), [4, 4]);
  assert.deepEqual(uniformBalance(7, 7), [1, 1, 1, 1, 1, 1, 1]);
});

test('each bad field gives one line naming the field, the rule, the value and a fix', () => {
  const problems = checkFields({ stages: 0, batch: -4, schedule: 'pipedream', backend: 'cuda', lr: 'fast', model: 'resnet', warmup: 1.5, colour: 'red' }, src);
  assert.equal(problems.length, 8);
  assert.match(problems[0], /^--stages must be a positive integer \(got 0\); set stages to a whole number above 0$/);
  assert.ok(problems.some((p) => p.startsWith('--schedule must be one of gpipe, 1f1b, interleaved-1f1b, zb-h1 (got "pipedream"); use gpipe or 1f1b or interleaved-1f1b or zb-h1')), problems.join(' | '));
  assert.ok(problems.some((p) => p.startsWith('--backend must be one of wasm, tensorflow')));
  assert.ok(problems.some((p) => p.startsWith('--lr must be a positive number (got "fast")')));
  assert.ok(problems.some((p) => p.startsWith('--model must be a built-in model')));
  assert.ok(problems.some((p) => p.startsWith('--colour is not a known field; remove it')));
  assert.deepEqual(checkFields({ warmupMs: -1 }, src), ['--warmupMs must be a non-negative number of milliseconds (got -1); try 1500 (the JIT compiles in the first seconds of a run), or 0']);
  assert.deepEqual(checkFields({ warmupMs: 1500 }, src), []);
});

test('balance rules: sum, stage count, more stages than layers, batch divisible by micro-batches', () => {
  const cfg = { ...CAPTURE_DEFAULTS, balance: [3, 3, 3], stages: undefined };
  assert.deepEqual(resolveBalance(cfg, 8, src).problems, ['--balance has 9 layers but the model has 8 (balance: [3,3,3]); use --balance 3,3,2 or --stages 3']);
  assert.deepEqual(resolveBalance({ ...CAPTURE_DEFAULTS, stages: 9 }, 8, src).problems, ['--stages is 9 but the model has only 8 layers, and a stage needs at least one; use --stages 8 or fewer']);
  assert.deepEqual(resolveBalance({ ...CAPTURE_DEFAULTS, batch: 30, microbatches: 4 }, 8, src).problems, ['--batch 30 is not divisible by microbatches 4; use --microbatches 3 (divisors of 30: 1, 2, 3, 5, 6, 10, 15, 30)']);
  assert.deepEqual(resolveBalance({ ...CAPTURE_DEFAULTS, stages: 2 }, 8, src), { balance: [4, 4], problems: [] });
});

test('the shipped JSON Schema lists exactly the known fields, with the same defaults and choices', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'pipeprof.config.schema.json'), 'utf8'));
  const props = Object.keys(schema.properties).filter((k) => k !== '$schema').sort();
  assert.deepEqual(props, Object.keys(CONFIG_FIELDS).sort());
  for (const [k, v] of Object.entries(CAPTURE_DEFAULTS)) assert.deepEqual(schema.properties[k].default, v, `default of ${k}`);
  assert.deepEqual(schema.properties.schedule.enum, ['gpipe', '1f1b', 'interleaved-1f1b', 'zb-h1']);
  for (const k of ['sync', 'allreduce', 'compress', 'optimizer', 'loss']) assert.ok(Array.isArray(schema.properties[k].enum), `${k} has its choices`);
  assert.deepEqual(schema.properties.backend.enum, ['wasm', 'tensorflow', 'tensorflow-gpu', 'webgpu', 'cpu']);
});
