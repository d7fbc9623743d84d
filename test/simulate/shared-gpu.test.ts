// One GPU shared by S stage workers: the simulator slows workers that compute at once, and calibration fits how many the GPU runs at full speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../../core/simulate/simulate';
import { calibrate } from '../../core/simulate/calibrate';
import { computeSlots, fitSharedGpu } from '../../core/simulate/shared-gpu';
import type { Timeline } from '../../core/trace/timeline';
import type { HostInfo } from '../../core/trace/schema';
import { asMeasured, plan, stepMs, summaries, unitCosts } from './helpers';

const host = (devices: number): HostInfo => ({
  platform: 'linux', arch: 'x64', cpus: 16, cpuModel: 'test', memoryBytes: 1, node: 'v20', tfjs: '4',
  gpu: { adapter: 'Test GPU', vendor: 'test', architecture: '', description: 'Test GPU', devices, timing: 'gpu-completion', readback: 'async' },
});

test('compute slots: the host cores, and at most the shared GPU\'s concurrency', () => {
  assert.equal(computeSlots({}), Infinity);
  assert.equal(computeSlots({ cores: 16 }), 16);
  assert.equal(computeSlots({ cores: 16, sharedGpu: { adapter: 'g', concurrency: 1.5, fitted: true } }), 1.5);
  assert.equal(computeSlots({ cores: 2, sharedGpu: { adapter: 'g', concurrency: 4, fitted: true } }), 2);
});

test('a GPU shared by 4 stages that runs one at a time: no pipeline speedup over S = 1 beyond the work itself', () => {
  const c = unitCosts(4, { f: 1, b: 2, mb: 2 });
  const p = plan([1, 1, 1, 1], 8);
  const own = stepMs(simulate({ plan: p, batch: 16, costs: c, layers: summaries(c) }));
  const shared = stepMs(simulate({ plan: p, batch: 16, costs: { ...c, sharedGpu: { adapter: 'g', concurrency: 1, fitted: true } }, layers: summaries(c) }));
  const single = stepMs(simulate({ plan: plan([4], 8), batch: 16, costs: c, layers: summaries(c) }));
  // A GPU per stage: (M + S − 1) slots of 3 ms; one GPU taking turns: every stage's work one after another, as on S = 1.
  assert.equal(own, (8 + 3) * 3);
  assert.equal(single, 8 * 4 * 3);
  assert.ok(Math.abs(shared - single) < 1e-6, `shared ${shared} vs single ${single}`);
  // Twice the concurrency: in between.
  const two = stepMs(simulate({ plan: p, batch: 16, costs: { ...c, sharedGpu: { adapter: 'g', concurrency: 2, fitted: true } }, layers: summaries(c) }));
  assert.ok(two < shared && two > own, `${own} < ${two} < ${shared}`);
});

test('calibration fits the concurrency a run on one shared GPU was made with, and then predicts that run', () => {
  const c = unitCosts(4, { f: 1, b: 2, mb: 2 });
  const p = plan([1, 1, 1, 1], 8);
  for (const concurrency of [1, 2, 1.5]) {
    const made = simulate({ plan: p, batch: 16, costs: { ...c, sharedGpu: { adapter: 'Test GPU', concurrency, fitted: true } }, layers: summaries(c), steps: 2 });
    const run: Timeline = { ...asMeasured(made), host: host(4) };
    const fit = fitSharedGpu(run)!;
    assert.ok(fit.fitted && Math.abs(fit.concurrency - concurrency) < 1e-9, `fitted ${fit.concurrency} for ${concurrency}`);
    const model = calibrate(run);
    assert.equal(model.sharedGpu?.concurrency, fit.concurrency);
    const again = stepMs(simulate({ plan: p, batch: 16, costs: model, layers: summaries(c) }));
    assert.ok(Math.abs(again - stepMs(made)) / stepMs(made) < 0.02, `predicted ${again} vs measured ${stepMs(made)} at concurrency ${concurrency}`);
  }
});

test('without a GPU in the trace there is no shared GPU; with one worker on it, sharing is assumed one at a time', () => {
  const c = unitCosts(2, { mb: 2 });
  const run = asMeasured(simulate({ plan: plan([2], 2), batch: 4, costs: c, layers: summaries(c) }));
  assert.equal(fitSharedGpu(run), null);
  assert.deepEqual(fitSharedGpu({ ...run, host: host(1) }), { adapter: 'Test GPU', concurrency: 1, fitted: false });
});
