// `pipeprof simulate`: defaults from the traced plan, flags change it, --json has report's names, --out writes a trace, bad flags name the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { registerSimulate } from '../../cli/simulate';
import { UsageError } from '../../core/config/errors';
import { simulate } from '../../core/simulate/simulate';
import { timelineToTrace } from '../../core/trace/export';
import { readTimeline } from '../../core/io/read-trace';
import { tmpdir } from '../helpers';
import { asMeasured, plan, richCosts, stepMs, summaries } from './helpers';

/** A "captured" trace: the rich cost model's run of balance [2,1,3], M=4, 1f1b, written as a measured trace file. */
function tracedFile(): string {
  const c = richCosts();
  const t = asMeasured(simulate({ plan: plan([2, 1, 3], 4), batch: 8, costs: c, layers: summaries(c), steps: 3, model: { name: 'mlp', options: {}, loss: 'softmax-ce' } }));
  const file = path.join(tmpdir(), 'run.pptrace.json');
  fs.writeFileSync(file, JSON.stringify(timelineToTrace(t)));
  return file;
}

async function simulateCli(argv: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), errIsTTY: false };
  const program = new Command('pipeprof').exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  registerSimulate(program, io);
  for (const c of program.commands) c.exitOverride();
  await program.parseAsync(argv, { from: 'user' });
  return { out, err };
}

test('simulate with no flags replays the traced plan and reports step time, bubble and memory per stage', async () => {
  const file = tracedFile();
  const { out } = await simulateCli(['simulate', file]);
  assert.match(out, /^traced {6}balance \[2,1,3\], 4 micro-batches, 1f1b, recompute never/m);
  assert.match(out, /the calibrated model gives [\d.]+ ms \((-?0\.0)%\)/);
  assert.match(out, /^predicted {3}balance \[2,1,3\], 4 micro-batches, 1f1b, recompute never$/m);
  assert.match(out, /^step time {3}[\d.]+ ms/m);
  assert.match(out, /^bubble {6}[\d.]+% mean over stages \(GPipe's \(S−1\)\/\(M\+S−1\): 33\.3%\)/m);
  assert.match(out, /^ {2}stage {2}utilization {2}bubble {2}busy ms {2}peak memory$/m);
  assert.equal(out.match(/^ {2}[012] {6}/gm)?.length, 3);
});

test('the analytic bubble is labelled with the plan\'s own schedule\'s formula; --schedule is read in any case', async () => {
  const file = tracedFile();
  // S = 3, M = 4: zb-h1's (S−1)/(3M+S−1) = 2/14; GPipe's would be 2/6.
  const { out } = await simulateCli(['simulate', file, '--schedule', 'ZB-H1']);
  assert.match(out, /^predicted {3}balance \[2,1,3\], 4 micro-batches, zb-h1,/m);
  assert.match(out, /^bubble {6}[\d.]+% mean over stages \(zb-h1's \(S−1\)\/\(3M\+S−1\) with F = B = W: 14\.3%\)/m);
  assert.doesNotMatch(out, /GPipe's/);
  const il = await simulateCli(['simulate', file, '--schedule', 'Interleaved-1F1B', '--chunks', '2', '--balance', '1,1,1,1,1,1']);
  assert.match(il.out, /\(interleaved 1F1B's \(S−1\)\/\(v·M\+S−1\): 20\.0%\)/);
});

test('--json prints the predicted run\'s report under report --json\'s names; flags change the plan', async () => {
  const file = tracedFile();
  const { out } = await simulateCli(['simulate', file, '--balance', '3,2,1', '--microbatches', '8', '--schedule', 'gpipe', '--recompute', 'always', '--json']);
  const r = JSON.parse(out);
  for (const k of ['stepTimeMs', 'bubbleFraction', 'analyticBubbleFraction', 'overlapFraction', 'straggler', 'stages']) assert.ok(k in r, k);
  assert.deepEqual(Object.keys(r.stages[0]).filter((k) => ['stage', 'utilization', 'bubbleFraction', 'busyMs', 'peakMemoryBytes'].includes(k)).length, 5);
  assert.deepEqual(r.plan, plan([3, 2, 1], 8, 'gpipe', 'always'));
  assert.equal(r.source, 'predicted');
  // The calibration recovers the cost model exactly, so the CLI's prediction is the model's own.
  const want = stepMs(simulate({ plan: plan([3, 2, 1], 8, 'gpipe', 'always'), batch: 8, costs: richCosts(), layers: summaries(richCosts()) }));
  assert.ok(Math.abs(r.stepTimeMs - want) < 1e-6 * want, `${r.stepTimeMs} vs ${want}`);
});

test('--out writes the predicted run as a trace that reads back like a captured one', async () => {
  const file = tracedFile();
  const out = path.join(path.dirname(file), 'predicted.pptrace.json');
  const printed = await simulateCli(['simulate', file, '--microbatches', '2', '--out', out, '--steps', '2']);
  assert.match(printed.out, /^trace {7}.*predicted\.pptrace\.json/m);
  const t = await readTimeline(out);
  assert.equal(t.source, 'predicted');
  assert.equal(t.plan!.microbatches, 2);
  assert.equal(t.steps.length, 2);
  assert.ok(t.ops.length > 0);
});

test('bad flags: one line each, naming the flag, the rule and a fix; nothing is written', async () => {
  const file = tracedFile();
  const out = path.join(path.dirname(file), 'never.pptrace.json');
  const problems = async (argv: string[]) => {
    try {
      await simulateCli(['simulate', file, ...argv, '--out', out]);
    } catch (e) {
      assert.ok(e instanceof UsageError, String(e));
      return e.problems;
    }
    assert.fail(`no error for ${argv.join(' ')}`);
  };
  assert.deepEqual(await problems(['--balance', '3,3,3']), ['--balance has 9 layers but the model has 6 (balance: [3,3,3]); use --balance 2,2,2']);
  assert.deepEqual(await problems(['--balance', '3,x']), ['--balance must be a list of positive integers, layers per stage (got "3,x"); write e.g. --balance 2,2,2']);
  assert.deepEqual(await problems(['--microbatches', '3']), ['--microbatches must be a positive integer dividing the traced batch 8 (got "3"); use one of 1, 2, 4, 8']);
  assert.deepEqual(await problems(['--schedule', 'zigzag']), ['--schedule must be one of gpipe, 1f1b, interleaved-1f1b, zb-h1 (got "zigzag"); use --schedule gpipe or --schedule 1f1b or --schedule interleaved-1f1b or --schedule zb-h1']);
  assert.deepEqual(await problems(['--recompute', 'sometimes']), ['--recompute must be one of always, except-last, never (got "sometimes"); use e.g. --recompute never']);
  assert.equal((await problems(['--balance', '1,1', '--microbatches', '0', '--schedule', 'x', '--recompute', 'y'])).length, 4);
  assert.ok(!fs.existsSync(out));
  await assert.rejects(simulateCli(['simulate', path.join(path.dirname(file), 'missing.pptrace.json')]), (e: unknown) => e instanceof UsageError && /trace file not found/.test(e.message));
});
