// PyTorch profiler (Kineto) traces through the CLI: import, report on rank files and folders, recommend and diff, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { cli, tmpdir } from '../helpers';
import { ppRun } from '../fixtures/kineto-pp';
import { KINETO_FIXTURES } from '../trace/kineto-read';

const dp = ['dp128-rank0.json.gz', 'dp128-rank1.json.gz'].map((f) => path.join(KINETO_FIXTURES, f));

test('import: two ranks of a data-parallel job become one pipeprof trace whose report equals the report of the rank files', async () => {
  const dir = tmpdir();
  const out = path.join(dir, 'dp.pptrace.json');
  const r = await cli(['import', ...dp, '--out', out, '--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.deepEqual(s.ranks.map((x: { rank: number }) => x.rank), [0, 1]);
  assert.equal(s.pipeline, false);
  assert.ok(s.kernels > 1000);
  const viaTrace = JSON.parse((await cli(['report', out, '--json'])).out);
  const direct = await cli(['report', ...dp, '--json']);
  assert.equal(direct.code, 0, direct.err);
  const viaFiles = JSON.parse(direct.out);
  assert.deepEqual(viaTrace.ranks, viaFiles.ranks);
  for (const rank of viaTrace.ranks) for (const k of ['rank', 'idleFraction', 'computeFraction', 'nonComputeFraction', 'commCompOverlap']) assert.ok(k in rank, k);
  assert.equal(viaTrace.stepTimeMs, viaFiles.stepTimeMs);
  // HTA's fractions add up: idle + compute + non-compute = the span.
  for (const x of viaTrace.ranks) assert.ok(Math.abs(x.idleFraction + x.computeFraction + x.nonComputeFraction - 1) < 1e-9);
});

test('a folder of rank files is a run; a PyTorch pipeline run gets stages, bubbles and recommendations; diff compares two runs', async () => {
  const dir = tmpdir();
  const write = (name: string, schedule: 'gpipe' | '1f1b') => {
    const f = path.join(dir, name);
    fs.mkdirSync(f);
    ppRun({ stages: 4, microbatches: 8, schedule, steps: 2 }).ranks.forEach((rank, i) => fs.writeFileSync(path.join(f, `rank${i}.pt.trace.json.gz`), zlib.gzipSync(JSON.stringify(rank))));
    return f;
  };
  const a = write('a', '1f1b');
  const b = write('b', 'gpipe');
  const rep = await cli(['report', a, '--json']);
  assert.equal(rep.code, 0, rep.err);
  const j = JSON.parse(rep.out);
  assert.equal(j.stages.length, 4);
  assert.equal(j.plan.schedule, '1f1b');
  assert.ok(Math.abs(j.analyticBubbleFraction - 3 / 11) < 1e-12);
  assert.ok(j.bubbleFraction > 0 && j.bubbleFraction < 1);
  assert.match(rep.err, /pipeprof: warning: plan guessed from the ops \(identified by PP:\)/);
  const rec = await cli(['recommend', a, '--json']);
  assert.equal(rec.code, 0, rec.err);
  const plans = JSON.parse(rec.out).plans;
  assert.ok(plans.length > 0 && plans.every((p: { balance: number[] }) => p.balance.length === 4));
  const d = await cli(['diff', a, b, '--json']);
  assert.equal(d.code, 0, d.err);
  const diff = JSON.parse(d.out);
  assert.equal(diff.stagesComparable, true);
  assert.ok(diff.plan.changes.some((c: { field: string }) => c.field === 'schedule'));
});

test('bad input: a missing file, a non-trace, a pipeprof trace mixed with rank files, an empty folder: one line each, exit 2', async () => {
  const dir = tmpdir();
  const junk = path.join(dir, 'junk.json');
  fs.writeFileSync(junk, JSON.stringify({ hello: 'world' }));
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  const pp = path.join(dir, 'run.pptrace.json');
  fs.writeFileSync(pp, JSON.stringify({ traceEvents: [], pipeprof: { version: 1 } }));
  const cases: [string[], RegExp][] = [
    [['import', path.join(dir, 'nope.json'), '--out', path.join(dir, 'o.json')], /nope\.json: trace file not found/],
    [['import', dp[0], junk, '--out', path.join(dir, 'o.json')], /junk\.json: not a Chrome\/Kineto trace: no traceEvents array/],
    [['report', dp[0], pp], /run\.pptrace\.json: is a pipeprof trace, and the other inputs are PyTorch rank files/],
    [['report', empty], /empty: folder holds no PyTorch profiler traces/],
    [['import', dp[0], '--out', path.join(dir, 'no', 'such', 'o.json')], /--out .*o\.json: folder .* does not exist/],
  ];
  for (const [argv, want] of cases) {
    const r = await cli(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, want);
    assert.equal(r.err.trim().split('\n').filter((l) => !l.includes('warning')).length, 1, r.err);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'o.json')), 'nothing written');
});

test('engines through the CLI: DeepSpeed and Megatron rank files (python_function markers read from files) and a bare 1F1B; import keeps the rule, the bubble split and HTA figures', async () => {
  const dir = tmpdir();
  for (const engine of ['deepspeed', 'megatron', 'bare'] as const) {
    const f = path.join(dir, engine);
    fs.mkdirSync(f);
    ppRun({ engine, stages: 3, microbatches: 6, schedule: '1f1b', replicas: 2, steps: 3, fUs: [700, 1300, 900] }).ranks.forEach((rank, i) => fs.writeFileSync(path.join(f, `rank${i}.json`), JSON.stringify(rank)));
    const rep = await cli(['report', f, '--json']);
    assert.equal(rep.code, 0, rep.err);
    const j = JSON.parse(rep.out);
    assert.deepEqual(j.opsRules, [{ deepspeed: 'DeepSpeed _exec_*', megatron: 'Megatron forward_step', bare: 'p2p pattern' }[engine]]);
    assert.equal(j.plan.replicas, 2);
    assert.equal(j.straggler.stage, 1);
    for (const s of j.stages) {
      assert.ok(s.waitingMs > 0 && s.transferMs > 0 && s.idleMs >= 0, `${engine} stage ${s.stage}`);
      assert.ok(Math.abs(s.bubbleMs - s.idleMs - s.waitingMs) < 1e-9);
    }
    const text = await cli(['report', f]);
    assert.match(text.out, /^ops {9}identified by .+; ranks → stages from the pipeline process group, 2 data-parallel replicas$/m);
    assert.match(text.out, /^bubble {6}[\d.]+% of each stage's step on average: idle [\d.]+ ms \+ waiting for a peer [\d.]+ ms; transfer on the wire [\d.]+ ms/m);
    // Through a .pptrace: the same report, HTA figures included (kernel launch times travel with the trace).
    const out = path.join(dir, `${engine}.pptrace.json`);
    assert.equal((await cli(['import', f, '--out', out, '--quiet'])).code, 0);
    const via = JSON.parse((await cli(['report', out, '--json'])).out);
    assert.deepEqual(via.ranks, j.ranks);
    assert.deepEqual(via.opsRules, j.opsRules);
    assert.deepEqual(via.stages.map((s: { bubbleFraction: number }) => s.bubbleFraction), j.stages.map((s: { bubbleFraction: number }) => s.bubbleFraction));
  }
});

test('recommend --layers on PyTorch rank files: costs solved, plans move blocks, the best one-stage-per-rank plan in Megatron, torch and DeepSpeed terms; bad counts exit 2', async () => {
  const dir = tmpdir();
  const blocks = [2, 2, 2, 2];
  ppRun({ engine: 'bare', schedule: '1f1b', stages: 4, microbatches: 8, steps: 3, fUs: blocks.map((n, s) => n * 300 + (s === 0 ? 100 : 0) + (s === 3 ? 600 : 0)), bUs: blocks.map((n, s) => n * 600 + (s === 0 ? 100 : 0) + (s === 3 ? 900 : 0)) })
    .ranks.forEach((rank, i) => fs.writeFileSync(path.join(dir, `rank${i}.json`), JSON.stringify(rank)));
  const r = await cli(['recommend', dir, '--layers', '2,2,2,2', '--top', '20']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^layers {7}solved from the stages' F \+ B per micro-batch: a block 0\.90 ms, the first stage's extra work \(embedding\) 0\.20 ms, the last's \(head, loss\) 1\.50 ms$/m);
  assert.match(r.out, /^plan #\d+ +in the engines' terms: Megatron --decoder-first-pipeline-num-layers \d --decoder-last-pipeline-num-layers [01][ ;]/m);
  const j = JSON.parse((await cli(['recommend', dir, '--layers', '2,2,2,2', '--json', '--top', '20'])).out);
  assert.ok(j.plans.some((p: { balance: number[] }) => p.balance.length === 4 && p.balance[3] < 3), 'some plan moves a block off the last stage');
  const bad = await cli(['recommend', dir, '--layers', '2,x']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--layers must list blocks per stage as whole numbers ≥ 0 \(got "2,x"\); e\.g\. --layers 2,8,8,2/);
});
