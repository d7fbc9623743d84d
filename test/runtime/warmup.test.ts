// Warm-up by time: with warmupMs, warm-up steps go on until that long has passed; the measured steps keep their count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smallRun } from './run';

test('warmupMs: warm-up lasts at least that long from the first step, then the asked-for steps are measured', async () => {
  const r = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { steps: 2, warmup: 1, warmupMs: 400 });
  const steps = r.trace.pipeprof.steps;
  const warm = steps.filter((s) => s.warmup);
  const measured = steps.filter((s) => !s.warmup);
  assert.equal(measured.length, 2);
  assert.equal(r.stepTimesMs.length, 2);
  assert.ok(warm.length >= 2, `a small mlp step takes milliseconds: more than one warm-up step fits in 400 ms (got ${warm.length})`);
  assert.equal(r.trace.pipeprof.run.warmup, warm.length, 'the trace records the warm-up steps run');
  assert.deepEqual(steps.map((s) => s.step), steps.map((_, i) => i));
  assert.ok(steps.every((s, i) => s.warmup === i < warm.length), 'warm-up steps come first');
  // The first measured step started once 400 ms had passed; the last warm-up step started before.
  assert.ok((measured[0].startUs - steps[0].startUs) / 1000 >= 400 - 1);
  assert.ok((warm[warm.length - 1].startUs - steps[0].startUs) / 1000 < 400);
});

test('without warmupMs: exactly the warm-up steps asked for', async () => {
  const r = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { steps: 2, warmup: 1 });
  assert.deepEqual(r.trace.pipeprof.steps.map((s) => s.warmup), [true, false, false]);
  assert.equal(r.trace.pipeprof.run.warmup, 1);
});
