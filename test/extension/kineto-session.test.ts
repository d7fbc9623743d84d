// The extension's host side on PyTorch traces: a Kineto file opens as a session, a folder of rank files imports into one trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importFolder, loadTraceSession } from '../../extension/trace-session';
import { readRun } from '../../core/io/read-trace';
import { KINETO_FIXTURES } from '../trace/kineto-read';
import { tmpdir } from '../helpers';

test('a Kineto rank file opens as a session with per-rank rows; a folder of ranks imports into a trace that reads back the same', async () => {
  const s = await loadTraceSession(path.join(KINETO_FIXTURES, 'nccl-2rank-rank0.json.gz'));
  assert.equal(s.timeline.origin, 'kineto');
  assert.deepEqual(s.measured.rows, ['rank 0']);
  assert.ok(s.measured.ops.kind.length > 1000);
  // The banner says why there is no recommendation in the user's terms (not "capture it with pipeprof capture").
  assert.doesNotMatch(s.notice ?? '', /pipeprof capture/);
  assert.match(s.notice ?? '', /no pipeline: one rank, and it ran no point-to-point/);
  assert.match(s.notice ?? '', /a PyTorch profiler trace with no pipeline \(one row per rank/);
  const dir = tmpdir();
  for (const f of ['dp128-rank0.json.gz', 'dp128-rank1.json.gz']) fs.copyFileSync(path.join(KINETO_FIXTURES, f), path.join(dir, f));
  const out = await importFolder(dir);
  try {
    assert.match(path.basename(out), /^pipeprof-.*\.pptrace\.json$/);
    const back = (await readRun(out)).timeline;
    const direct = (await readRun(dir)).timeline;
    assert.equal(back.origin, 'kineto');
    assert.deepEqual(back.ranks, direct.ranks);
    assert.equal(back.kernels!.length, direct.kernels!.length);
    assert.deepEqual(Array.from(back.ops.dur), Array.from(direct.ops.dur));
  } finally {
    fs.rmSync(out, { force: true });
  }
});
