// `pipeprof capture` and `demo` end to end: JSON summary names, weights file shape, progress, and a worker fault in a real process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, tmpdir, ROOT } from '../helpers';

const small = (dir: string) => {
  const cfg = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ model: { name: 'transformer', vocab: 64, dModel: 16, heads: 2, seqLen: 4, blocks: 2, ffn: 32 }, batch: 8, steps: 2, warmup: 1, optimizer: 'sgd', lr: 0.1 }));
  return cfg;
};

test('capture --json prints the summary object scripts rely on, and writes the trace', async () => {
  const dir = tmpdir();
  const r = await cli(['capture', small(dir), '--stages', '2', '--microbatches', '2', '--schedule', 'gpipe', '--recompute', 'always', '--json', '--out', path.join(dir, 'a.pptrace.json')]);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.deepEqual(Object.keys(s), ['plan', 'stepTimeMs', 'samplesPerSec', 'finalLoss', 'trace']);
  assert.deepEqual(s.plan, { stages: 2, balance: [2, 2], microbatches: 2, schedule: 'gpipe', recompute: 'always', replicas: 1, sync: 'step' });
  assert.ok(s.stepTimeMs > 0 && Math.abs(s.samplesPerSec - 8000 / s.stepTimeMs) < 1e-6);
  assert.ok(Number.isFinite(s.finalLoss));
  const trace = JSON.parse(fs.readFileSync(s.trace, 'utf8'));
  assert.equal(trace.pipeprof.status, 'complete');
  assert.equal(trace.pipeprof.steps.length, 3);
  // Progress went to stderr, one line per step when stderr is not a terminal.
  assert.equal(r.err.split('\n').filter((l) => l.startsWith('capture [')).length, 3);
});

test('--warmup-ms: warm-up steps go on until that long has passed; the trace records how many ran', async () => {
  const dir = tmpdir();
  const r = await cli(['capture', small(dir), '--stages', '2', '--microbatches', '2', '--warmup-ms', '600', '--json', '--quiet', '--out', path.join(dir, 'w.pptrace.json')]);
  assert.equal(r.code, 0, r.err);
  const trace = JSON.parse(fs.readFileSync(JSON.parse(r.out).trace, 'utf8'));
  const steps = trace.pipeprof.steps as { warmup: boolean; startUs: number }[];
  const warm = steps.filter((s) => s.warmup);
  assert.equal(steps.length - warm.length, 2, 'the measured steps asked for');
  assert.equal(trace.pipeprof.run.warmup, warm.length);
  assert.ok(warm.length > 1, `the small transformer's steps take milliseconds: 600 ms holds more than the one warm-up step asked for (got ${warm.length})`);
  assert.ok((steps[warm.length].startUs - steps[0].startUs) / 1000 >= 599);
  const bad = await cli(['capture', small(dir), '--warmup-ms', 'soon']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--warmup-ms must be a non-negative number of milliseconds \(got "soon"\); try 1500/);
});

test('--save-weights writes the same shape whatever the plan, and the same values (transparency through the CLI)', async () => {
  const dir = tmpdir();
  const cfg = small(dir);
  const load = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));
  const a = await cli(['capture', cfg, '--stages', '1', '--microbatches', '1', '--quiet', '--out', path.join(dir, 'a.pptrace.json'), '--save-weights', path.join(dir, 'a.json')]);
  const b = await cli(['capture', cfg, '--balance', '1,2,1', '--microbatches', '4', '--quiet', '--out', path.join(dir, 'b.pptrace.json'), '--save-weights', path.join(dir, 'b.json')]);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  const wa = load(path.join(dir, 'a.json'));
  const wb = load(path.join(dir, 'b.json'));
  assert.deepEqual(Object.keys(wa), ['embedding', 'block_0', 'block_1', 'head']);
  assert.deepEqual(Object.keys(wb), Object.keys(wa));
  for (const layer of Object.keys(wa)) {
    assert.deepEqual(Object.keys(wb[layer]), Object.keys(wa[layer]));
    for (const w of Object.keys(wa[layer])) {
      assert.deepEqual(wb[layer][w].shape, wa[layer][w].shape);
      wa[layer][w].values.forEach((v: number, i: number) => assert.ok(Math.abs(v - wb[layer][w].values[i]) < 1e-5, `${layer}/${w}[${i}]`));
    }
  }
});

test('a crash in a stage worker: exit code 1, the stage and op named, a valid partial trace, the process ends', () => {
  const dir = tmpdir();
  const out = path.join(dir, 'crash.pptrace.json');
  const t = Date.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'pipeprof.js'), 'capture', small(dir), '--stages', '2', '--steps', '3', '--quiet', '--out', out], {
    env: { ...process.env, PIPEPROF_FAULT: '1:B:2:throw' }, encoding: 'utf8', timeout: 60_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(Date.now() - t < 30_000);
  assert.match(r.stderr, /^pipeprof: run failed: stage 1, op B micro-batch \d+, step 2: injected fault in B on stage 1$/m);
  const trace = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.equal(trace.pipeprof.status, 'failed');
  assert.equal(trace.pipeprof.error.stage, 1);
  assert.equal(trace.pipeprof.steps.length, 2);
  // Nothing but the trace was written (no temporary files left behind).
  assert.deepEqual(fs.readdirSync(dir).sort(), ['crash.pptrace.json', 'pipeprof.config.json']);
});

test('pipeprof demo needs no argument: trains the transformer on 2 stages and summarizes', async () => {
  const dir = tmpdir();
  const out = path.join(dir, 'demo.pptrace.json');
  const r = await cli(['demo', '--out', out, '--steps', '2']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^plan {8}2 stages, balance \[5,5\], 4 micro-batches, 1f1b, recompute never$/m);
  assert.match(r.out, /^recommended (E,[\d,|]+H · balance \[\d+,\d+\], \d+ micro-batches.* ms ± [\d.]+ % per step predicted, [\d.]+x the traced plan|keep the traced plan: the best other, E,[\d,|]+H .* is within noise of it)/m);
  assert.match(r.out, /^straggler {3}stage \d/m);
  assert.match(r.out, /^step time {3}[\d.]+ ms \(median\)/m);
  const trace = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.equal(trace.pipeprof.model.name, 'transformer');
  assert.equal(trace.pipeprof.layers.length, 10);
});

test('a failed run does not overwrite an earlier trace of the same name: its partial trace goes beside it', () => {
  const dir = tmpdir();
  const out = path.join(dir, 'run.pptrace.json');
  const earlier = JSON.stringify({ earlier: true });
  fs.writeFileSync(out, earlier);
  const cfg = small(dir);
  const cfgText = fs.readFileSync(cfg, 'utf8');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'pipeprof.js'), 'capture', cfg, '--stages', '2', '--steps', '3', '--quiet', '--out', out], {
    env: { ...process.env, PIPEPROF_FAULT: '0:OPT:1:oom' }, encoding: 'utf8', timeout: 60_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^pipeprof: run failed: stage 0, op OPT, step 1: worker ran out of memory/m);
  const failed = path.join(dir, 'run.failed.pptrace.json');
  assert.match(r.stderr, new RegExp(`is written to ${failed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, marked "failed"`));
  assert.equal(fs.readFileSync(out, 'utf8'), earlier, 'the earlier trace is untouched');
  assert.equal(fs.readFileSync(cfg, 'utf8'), cfgText, 'the config is untouched');
  assert.equal(JSON.parse(fs.readFileSync(failed, 'utf8')).pipeprof.status, 'failed');
});
