// What capture says while it works: a line for each phase, the probe deduplicated and skippable (--no-probe, "probe": false), and a probe-less trace still read, simulated and ranked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, tmpdir } from '../helpers';

/** A small mlp (4 layers of 16) on 2 stages: the first layer, two twins, and the linear last layer. */
const TINY = { model: { name: 'mlp', width: 16, depth: 4 }, stages: 2, batch: 8, microbatches: 2, steps: 2, warmup: 1 };

test('capture names each phase as it starts, and the probe times each distinct layer once, on one worker (its twins on every stage copy the points)', async () => {
  const dir = tmpdir();
  const cfg = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ ...TINY, model: { name: 'mlp', width: 16, depth: 6 }, out: 'a.pptrace.json' }));
  const r = await cli(['capture', cfg]);
  assert.equal(r.code, 0, r.err);
  const lines = r.err.trim().split('\n');
  const phases = lines.filter((l) => /^capture: /.test(l));
  assert.equal(phases.length, 3, r.err);
  assert.equal(phases[0], 'capture: starting 2 stage workers (wasm): loading the backend, building 6 layers');
  assert.equal(phases[1], 'capture: training 1 warm-up step, then 2 measured steps, 2 micro-batches each');
  assert.equal(phases[2], 'capture: timing each distinct layer at 3 micro-batch sizes (1, 2, 4 samples) for the simulator; --no-probe skips this');
  // The phases come in order: the probe line after the last step's progress line.
  assert.ok(lines.indexOf(phases[2]) > lines.findIndex((l) => /^capture \[.*\] 3\/3 /.test(l)), r.err);
  const trace = JSON.parse(fs.readFileSync(path.join(dir, 'a.pptrace.json'), 'utf8'));
  const costs = trace.pipeprof.layerCosts as { layer: string; points: unknown[] }[];
  assert.deepEqual(costs.map((c) => c.layer), ['dense_0', 'dense_1', 'dense_2', 'dense_3', 'dense_4', 'dense_5']);
  const points = (name: string) => JSON.stringify(costs.find((c) => c.layer === name)!.points);
  // Stage 0 holds dense_0 … dense_2: dense_1 and dense_2 have one shape, so one timing; dense_0 computes no dx: timed apart.
  assert.equal(JSON.parse(points('dense_1')).length, 3);
  assert.equal(points('dense_2'), points('dense_1'));
  assert.notEqual(points('dense_0'), points('dense_1'));
  // dense_3 and dense_4 on stage 1 have that shape too: one worker times it for both stages; each keeps its own stage.
  assert.equal(points('dense_3'), points('dense_1'));
  assert.equal(points('dense_4'), points('dense_1'));
  assert.deepEqual(costs.map((c) => (c as unknown as { stage: number }).stage), [0, 0, 0, 1, 1, 1]);
  // dense_5 is linear, another shape, and carries the loss, timed by its own stage.
  assert.notEqual(points('dense_5'), points('dense_4'));
  assert.ok(JSON.parse(points('dense_5')).every((p: { lossMs?: number }) => p.lossMs! > 0));
  assert.ok(JSON.parse(points('dense_4')).every((p: { lossMs?: number }) => p.lossMs === undefined));
});

test('--no-probe and "probe": false skip the probe; the trace still loads, reports, simulates and ranks', async () => {
  const dir = tmpdir();
  const out = path.join(dir, 'np.pptrace.json');
  const cfg = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ ...TINY, probe: false }));
  const r = await cli(['capture', cfg, '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, /timing each distinct layer/);
  const trace = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.equal(trace.pipeprof.layerCosts, undefined);
  fs.rmSync(out);
  const flag = await cli(['capture', cfg, '--out', out, '--no-probe', '--quiet']);
  assert.equal(flag.code, 0, flag.err);
  assert.equal(JSON.parse(fs.readFileSync(out, 'utf8')).pipeprof.layerCosts, undefined);
  const report = await cli(['report', out]);
  assert.equal(report.code, 0, report.err);
  assert.match(report.out, /^step time/m);
  // Without the probe nothing is known of another micro-batch size: one line says so; the traced shape still predicts.
  const other = await cli(['simulate', out, '--microbatches', '4']);
  assert.equal(other.code, 2);
  assert.match(other.err, /^pipeprof: .*np\.pptrace\.json: the trace has no per-layer probe \(pipeprof\.layerCosts\), so only the traced balance and micro-batch count can be predicted; capture it again without --no-probe/);
  const sim = await cli(['simulate', out, '--schedule', 'gpipe']);
  assert.equal(sim.code, 0, sim.err);
  assert.match(sim.out, /^predicted {3}balance \[2,2\], 2 micro-batches, gpipe/m);
  const rec = await cli(['recommend', out, '--top', '9', '--json']);
  assert.equal(rec.code, 0, rec.err);
  const plans = JSON.parse(rec.out).plans as { balance: number[]; microbatches: number }[];
  assert.ok(plans.length > 1 && plans.every((p) => p.balance.join() === '2,2' && p.microbatches === 2), rec.out);
  assert.match((await cli(['recommend', out])).out, /^note {9}the trace has no per-layer probe/m);
});

test('"probe" in a config file is checked like every field; --help says what skipping it costs the simulator', async () => {
  const dir = tmpdir();
  const cfg = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ probe: 'no' }));
  const r = await cli(['capture', cfg]);
  assert.equal(r.code, 2);
  assert.equal(r.err.trim(), `pipeprof: ${cfg}: probe must be true or false: time each distinct layer after the steps, for the simulator (got "no"); write true (per-layer costs for the simulator) or false (skip them: a faster capture, rougher predictions)`);
  const help = (await cli(['capture', '--help'])).out.replace(/\n\s{10,}/g, ' ');
  assert.match(help, /--no-probe +skip the per-layer cost probe .* Without it the simulator knows each stage's op times at the traced micro-batch size only: simulate predicts the traced balance and micro-batch count/);
});

test('recommend --verify says what it runs, then advances its bar after each run, not all at once at the end', async () => {
  const dir = tmpdir();
  const trace = path.join(dir, 'run.pptrace.json');
  const cfg = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ ...TINY, out: trace }));
  const cap = await cli(['capture', cfg, '--quiet']);
  assert.equal(cap.code, 0, cap.err);
  const r = await cli(['recommend', trace, '--verify', '2', '--top', '2']);
  assert.equal(r.code, 0, r.err);
  const lines = r.err.trim().split('\n');
  assert.equal(lines[0], 'recommend: calibrating the timing model on the trace and ranking plans on it');
  assert.match(lines[1], /^verify: running 2 plans and the traced plan for real on the traced model, 2 rounds in alternating order, each run 1\.5 s of warm-up then 4 steps$/);
  const bars = lines.slice(2).map((l) => /^verify \[[█░]+\] (\d+)\/(\d+) round (\d), (plan #\d|the traced plan): [\d.]+ ms per step$/.exec(l));
  assert.ok(bars.length >= 6 && bars.every(Boolean), r.err);
  // One line per run, counting up to the total: 2 rounds × (2 plans + the traced one), the second round in reverse order.
  assert.deepEqual(bars.map((m) => Number(m![1])), bars.map((_, i) => i + 1));
  assert.ok(bars.every((m) => Number(m![2]) === bars.length));
  assert.deepEqual(bars.map((m) => `${m![3]}:${m![4]}`), ['1:plan #1', '1:plan #2', '1:the traced plan', '2:the traced plan', '2:plan #2', '2:plan #1']);
});
