// Optional backends: a missing package or a missing GPU driver gives one clear line; a present one trains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, tmpdir, ROOT } from '../helpers';
import { REQUIRE_WEBGPU, runNode, strayLines, webgpuCause } from '../runtime/webgpu-env';

// In a child process: Dawn writes its log lines to the process's native stderr, which would land in the test runner's.
test('webgpu captures where Dawn works (probe and peak included); elsewhere it says why in one line', async () => {
  const why = await webgpuCause();
  if (why && REQUIRE_WEBGPU) assert.fail(`webgpu is required here (CI or PIPEPROF_REQUIRE_WEBGPU=1) but does not work: ${why}`);
  const dir = tmpdir();
  const out = path.join(dir, 'w.pptrace.json');
  // A small mlp (lavapipe is slow), two stages: two Dawn devices on one GPU.
  const config = path.join(dir, 'pipeprof.config.json');
  fs.writeFileSync(config, JSON.stringify({ model: { name: 'mlp', width: 64, depth: 4 }, backend: 'webgpu' }));
  const r = await runNode([path.join(ROOT, 'bin', 'pipeprof.js'), 'capture', config, '--stages', '2', '--steps', '1', '--warmup', '0', '--batch', '8', '--microbatches', '2', '--quiet', '--out', out], 600_000);
  const err = strayLines(r.stderr).join('\n');
  if (!why) {
    assert.equal(r.code, 0, err);
    assert.equal(err, '', 'nothing on stderr but Dawn\'s known lines');
    const host = JSON.parse(fs.readFileSync(out, 'utf8')).pipeprof.host;
    assert.ok(host.peakFlops > 0 && host.gpu.devices === 2, JSON.stringify(host));
  } else {
    // No adapter (no driver, or one Dawn refuses, as Debian 12's Mesa 22.3): one line naming the driver to install.
    // A driver that gives an adapter but fails later: the run stops naming the stage and op.
    assert.equal(r.code, 1, err);
    if (/found no GPU adapter/.test(why)) assert.match(err, /^pipeprof: run failed: stage \d, op init: backend webgpu found no GPU adapter: Dawn needs a Vulkan driver .*; use --backend wasm$/m);
    else assert.match(err, /^pipeprof: run failed: stage \d+, op [^:]+: .+$/m);
    assert.doesNotMatch(err, /TypeError|at step \(/, 'no stack trace from tfjs');
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
