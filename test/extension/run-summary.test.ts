// The Runs view's summaries: the pipeprof block read from a trace's tail (plain, gzipped, pretty-printed), the newest trace of a folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, medianStepMs, metaFromTail, newestTrace, readRunSummary } from '../../extension/run-summary';
import { tmpdir } from '../helpers';
import { realTrace, traceFile } from './fixture';

test('the pipeprof block comes from the last bytes of a trace, even when a layer is named "pipeprof"', async () => {
  const tr = JSON.parse(JSON.stringify(await realTrace()));
  const text = JSON.stringify(tr);
  assert.deepEqual(metaFromTail(text.slice(-50_000)), tr.pipeprof);
  tr.pipeprof.layers[0].name = '"pipeprof": {';
  assert.deepEqual(metaFromTail(JSON.stringify(tr)), tr.pipeprof);
  assert.deepEqual(metaFromTail(JSON.stringify(tr, null, 2)), tr.pipeprof);
  assert.equal(metaFromTail('{"traceEvents": []}'), null);
  assert.equal(metaFromTail(text.slice(0, -10)), null, 'a cut-off file');
});

test('summaries of real traces: step time (median of measured steps), status, plan; gz and pretty files too', async () => {
  const tr = await realTrace();
  const steps = tr.pipeprof.steps.filter((s) => !s.warmup).map((s) => (s.endUs - s.startUs) / 1000).sort((a, b) => a - b);
  const dir = tmpdir('pipeprof-runs-');
  for (const name of ['a.pptrace.json', 'b.pptrace.json.gz']) {
    const s = await readRunSummary(await traceFile(name, dir));
    assert.equal(s.name, name);
    assert.equal(s.status, 'complete');
    assert.equal(s.source, 'measured');
    assert.equal(s.stepTimeMs, steps[1]);
    assert.equal(s.plan, 'balance [2,2], 4 micro-batches, gpipe, recompute never');
    assert.ok(s.mtimeMs > 0);
    assert.equal(s.problem, undefined);
    assert.equal(describeRun(s), `${steps[1].toFixed(1)} ms · complete`);
  }
  // The block first, then the events: found by reading the whole (small) file.
  const first = path.join(dir, 'first.pptrace.json');
  fs.writeFileSync(first, JSON.stringify({ pipeprof: { ...tr.pipeprof, status: 'failed', source: 'predicted' }, traceEvents: tr.traceEvents }));
  const f = await readRunSummary(first);
  assert.equal(f.status, 'failed');
  assert.equal(describeRun(f), `${steps[1].toFixed(1)} ms · failed · predicted`);
  // Not a trace at all, and a missing file: summarized, never thrown.
  const junk = path.join(dir, 'junk.pptrace.json');
  fs.writeFileSync(junk, 'not json');
  assert.match((await readRunSummary(junk)).problem!, /^cannot read: /);
  fs.writeFileSync(junk, '{"traceEvents": []}');
  const j = await readRunSummary(junk);
  assert.equal(j.status, 'unknown');
  assert.equal(describeRun(j), 'not a pipeprof trace');
  assert.match((await readRunSummary(path.join(dir, 'gone.pptrace.json'))).problem!, /^cannot read: ENOENT/);
});

test('median step time: measured steps, or all of them when every one is warm-up', () => {
  const s = (ms: number, warmup = false) => ({ startUs: 0, endUs: ms * 1000, warmup });
  assert.equal(medianStepMs([s(100, true), s(3), s(1), s(2)]), 2);
  assert.equal(medianStepMs([s(100, true), s(3), s(1)]), 2);
  assert.equal(medianStepMs([s(4, true), s(2, true)]), 3);
  assert.equal(medianStepMs([]), null);
  assert.equal(medianStepMs('x'), null);
});

test('the newest trace of a folder by modification time', async () => {
  const dir = tmpdir('pipeprof-newest-');
  assert.equal(await newestTrace(dir), undefined);
  assert.equal(await newestTrace(path.join(dir, 'missing')), undefined);
  const at = (name: string, t: number) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, '{}');
    fs.utimesSync(f, t, t);
    return f;
  };
  at('old.pptrace.json', 1000);
  const mid = at('mid.pptrace.json.gz', 2000);
  at('notes.json', 3000);
  assert.equal(await newestTrace(dir), mid);
  const fresh = at('2030-01-01T00-00-00.pptrace.json', 4000);
  assert.equal(await newestTrace(dir), fresh);
});
