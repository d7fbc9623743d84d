// One GPU shared by the stage workers: each worker's share of the GPU's work, time in flight, overlap and idle time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpuShare } from '../../core/analysis/gpu-share';
import { formatGpuShare } from '../../cli/report';
import type { GpuInfo } from '../../core/trace/schema';
import { ONE_F_ONE_B, timeline } from './fixtures';

const GPU: GpuInfo = { adapter: 'Test GPU', vendor: 'test', architecture: '', description: 'Test GPU', devices: 2, timing: 'gpu-completion', readback: 'async' };

test('gpu share: per worker its merged in-flight time over the measured steps; two at once and idle from a sweep', () => {
  // Warm-up step 0 (one long F on stage 0) is left out; step 1 is ONE_F_ONE_B shifted by 100 ms:
  //   stage 0 in flight [0,2] [3,4] [5,7] = 5 of 7 ms; stage 1 [1,6] = 5 of 7 ms; both at once [1,2] [3,4] [5,6] = 3 ms.
  const shifted = ONE_F_ONE_B.map(([s, k, m, a, b, p]) => [s, k, m, a + 100, b + 100, p] as typeof ONE_F_ONE_B[number]);
  const t = timeline({ stages: 2, steps: [{ ops: [[0, 'F', 0, 0, 90]], start: 0, end: 90, warmup: true }, { ops: shifted, start: 100, end: 107 }] });
  assert.equal(gpuShare(t), null, 'no host.gpu: not a shared GPU');
  t.host = { platform: 'linux', arch: 'x64', cpus: 2, cpuModel: 'test', memoryBytes: 1, node: 'v20', tfjs: '4', gpu: GPU };
  const g = gpuShare(t)!;
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  assert.deepEqual(g.workers.map((w) => [w.stage, w.replica, round(w.inFlight), round(w.share)]), [[0, 0, round(5 / 7), 0.5], [1, 0, round(5 / 7), 0.5]]);
  assert.equal(round(g.concurrent), round(3 / 7));
  assert.equal(round(g.busy), 1);
  assert.equal(
    formatGpuShare(g),
    'gpu         Test GPU, shared by 2 stage workers (a Dawn device each): stage 0 50.0% (in flight 71.4% of the time), stage 1 50.0% (in flight 71.4% of the time); two or more at once 42.9%, idle 0.0%\n',
  );
});

test('gpu share: a worker that computes more has the larger share; a gap where none computes is idle', () => {
  const t = timeline({ stages: 2, steps: [{ ops: [[0, 'F', 0, 0, 6], [1, 'F', 0, 4, 6], [1, 'B', 0, 8, 10]], start: 0, end: 10 }] });
  t.host = { platform: 'linux', arch: 'x64', cpus: 2, cpuModel: 'test', memoryBytes: 1, node: 'v20', tfjs: '4', gpu: GPU };
  const g = gpuShare(t)!;
  assert.deepEqual(g.workers.map((w) => w.share), [0.6, 0.4]);
  assert.equal(g.concurrent, 0.2);
  assert.equal(g.busy, 0.8);
});
