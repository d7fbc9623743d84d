// Optional backends: a missing package or a missing GPU driver gives one clear line; a present one trains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { execSync } from 'node:child_process';
import { cli, tmpdir } from '../helpers';

const hasVulkan = (() => {
  try {
    return execSync('ldconfig -p', { encoding: 'utf8' }).includes('libvulkan.so.1');
  } catch {
    return false;
  }
})();

test(`webgpu ${hasVulkan ? 'trains with the Vulkan driver present' : 'without a Vulkan driver says why in one line'}`, async () => {
  const dir = tmpdir();
  const r = await cli(['capture', '--backend', 'webgpu', '--model', 'mlp', '--stages', '1', '--steps', '1', '--warmup', '0', '--batch', '4', '--microbatches', '1', '--quiet', '--out', path.join(dir, 'w.pptrace.json')]);
  if (hasVulkan) {
    assert.equal(r.code, 0, r.err);
  } else {
    assert.equal(r.code, 1);
    assert.match(r.err, /^pipeprof: run failed: stage 0, op init: backend webgpu found no GPU adapter: Dawn needs a Vulkan driver .*; use --backend wasm$/m);
    assert.doesNotMatch(r.err, /TypeError|at step \(/, 'no stack trace from tfjs');
  }
});

test('the tensorflow backends name the package to install when it is absent', async () => {
  for (const [backend, pkg] of [['tensorflow', '@tensorflow/tfjs-node'], ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu']]) {
    let installed = true;
    try {
      require.resolve(pkg);
    } catch {
      installed = false;
    }
    if (installed) continue; // where libtensorflow could be downloaded, the package is there and the flag works
    const r = await cli(['capture', '--backend', backend]);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim(), `pipeprof: --backend: backend ${backend} needs ${pkg}, which is not installed; run \`npm install ${pkg}\` or use --backend wasm`);
  }
});
