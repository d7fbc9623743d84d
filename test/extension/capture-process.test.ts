// Profile Training's child process: arguments, progress lines as the CLI prints them, error lines, a real capture, and cancel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Progress } from '../../cli/io';
import { captureArgs, errorFromStderr, nodeCommand, parseProgress, runCapture, timestampName } from '../../extension/capture-process';
import { readRunSummary } from '../../extension/run-summary';
import { ROOT, tmpdir } from '../helpers';

test("progress lines are the CLI's own (Progress on a non-terminal), other lines are not progress", () => {
  const lines: string[] = [];
  const p = new Progress({ out: () => {}, err: (t) => void lines.push(t), errIsTTY: false }, 'capture');
  p.update(3, 12, 'warm-up 412 ms  loss 9.0197');
  p.update(12, 12, '380 ms  loss 8.1');
  assert.deepEqual(lines.map(parseProgress), [
    { done: 3, total: 12, text: '3/12 warm-up 412 ms loss 9.0197' },
    { done: 12, total: 12, text: '12/12 380 ms loss 8.1' },
  ]);
  assert.equal(parseProgress('pipeprof: run failed: stage 1 op B step 2: boom'), null);
  assert.equal(parseProgress(''), null);
});

test("the error shown is the CLI's first pipeprof: line", () => {
  assert.equal(errorFromStderr('capture [█░] 1/4 3 ms\npipeprof: note: x\npipeprof: model.json: file not found; check the path\npipeprof: second\n'), 'model.json: file not found; check the path');
  assert.equal(errorFromStderr('Segmentation fault\n'), 'Segmentation fault');
  assert.equal(errorFromStderr(''), 'the capture stopped without a message');
});

test('arguments, node on PATH or the host binary as Node, time-stamped names', () => {
  const args = captureArgs({ extensionPath: '/ext', configFile: '/ws/pipeprof.config.json', out: '/ws/.pipeprof/t.pptrace.json', backend: 'cpu' });
  assert.deepEqual(args, [path.join('/ext', 'bin', 'pipeprof.js'), 'capture', '/ws/pipeprof.config.json', '--json', '--out', '/ws/.pipeprof/t.pptrace.json', '--backend', 'cpu']);
  assert.equal(captureArgs({ extensionPath: '/ext', configFile: 'c', out: 'o' }).includes('--backend'), false);
  const onPath = nodeCommand(['/nope', '/usr/x/bin'].join(path.delimiter), (f) => f === path.join('/usr/x/bin', 'node'));
  assert.deepEqual(onPath, { command: path.join('/usr/x/bin', 'node'), env: {} });
  assert.deepEqual(nodeCommand('/nope', () => false), { command: process.execPath, env: { ELECTRON_RUN_AS_NODE: '1' } });
  assert.equal(timestampName(new Date(2025, 10, 21, 8, 4, 5)), '2025-11-21T08-04-05');
});

function config(dir: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(file, JSON.stringify({ model: { name: 'mlp', width: 16, depth: 4 }, stages: 2, batch: 8, microbatches: 2, steps: 2, warmup: 1, ...extra }, null, 2));
  return file;
}

test('a real capture through the CLI: progress per step, the --json summary, the trace written', async () => {
  const dir = tmpdir('pipeprof-profile-');
  const out = path.join(dir, '.pipeprof', `${timestampName()}.pptrace.json`);
  fs.mkdirSync(path.dirname(out));
  const progress: number[] = [];
  const r = await runCapture({ extensionPath: ROOT, configFile: config(dir), out, backend: 'wasm' }, { onProgress: (p) => progress.push(p.done) });
  assert.equal(r.ok, true, r.stderr);
  assert.equal(r.code, 0);
  assert.deepEqual(progress, [1, 2, 3]);
  assert.equal(r.trace, out);
  assert.ok(r.summary && r.summary.stepTimeMs > 0);
  assert.equal((await readRunSummary(out)).status, 'complete');
});

test('a bad config: the CLI error line, exit code 2, no trace', async () => {
  const dir = tmpdir('pipeprof-profile-');
  const out = path.join(dir, 'x.pptrace.json');
  const r = await runCapture({ extensionPath: ROOT, configFile: config(dir, { microbatches: 3 }), out });
  assert.equal(r.ok, false);
  assert.equal(r.code, 2);
  assert.equal(r.cancelled, false);
  assert.match(r.error!, /microbatches/);
  assert.equal(r.trace, undefined);
});

test('cancel kills the whole process group at once', async () => {
  const dir = tmpdir('pipeprof-profile-');
  const out = path.join(dir, 'long.pptrace.json');
  const ac = new AbortController();
  const t0 = Date.now();
  const r = await runCapture({ extensionPath: ROOT, configFile: config(dir, { steps: 100000 }), out }, { signal: ac.signal, onProgress: () => ac.abort() });
  assert.equal(r.ok, false);
  assert.equal(r.cancelled, true);
  assert.equal(r.error, 'cancelled');
  assert.ok(Date.now() - t0 < 60_000);
  // The CLI stops on the group's SIGTERM as on a fault: what it measured so far is kept, marked failed, or nothing yet.
  if (fs.existsSync(out)) assert.equal((await readRunSummary(out)).status, 'failed');
  assert.ok(r.pid === undefined || !alive(r.pid), 'the CLI process is gone');
});

test("Profile Training's capture under injected faults: the CLI's error line names stage and op, the partial trace is kept, the process is gone, the config untouched", async () => {
  for (const fault of ['1:B:1:exit', '0:F:1:oom', '1:OPT:1:throw']) {
    const dir = tmpdir('pipeprof-profile-fault-');
    const cfg = config(dir, { steps: 3, warmup: 0 });
    const before = fs.readFileSync(cfg, 'utf8');
    const out = path.join(dir, `${timestampName()}.pptrace.json`);
    const t0 = Date.now();
    const r = await runCapture({ extensionPath: ROOT, configFile: cfg, out, env: { PIPEPROF_FAULT: fault } });
    assert.equal(r.ok, false, fault);
    assert.equal(r.code, 1, `${fault}: ${r.stderr}`);
    const [stage, op] = fault.split(':');
    assert.match(r.error!, new RegExp(`stage ${stage}, op ${op}`), `${fault}: ${r.error}`);
    assert.equal(r.trace, out, fault);
    assert.equal((await readRunSummary(out)).status, 'failed');
    assert.ok(Date.now() - t0 < 60_000, `${fault}: ${Date.now() - t0} ms`);
    assert.equal(fs.readFileSync(cfg, 'utf8'), before, `${fault}: the config is untouched`);
    assert.ok(r.pid === undefined || !alive(r.pid), `${fault}: the CLI process is gone`);
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
