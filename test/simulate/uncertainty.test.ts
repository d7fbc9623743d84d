// The robust fits under calibration, and the interval every prediction carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curveOutliers, isotonic, leastChange, robustSd, theilSen } from '../../core/simulate/robust';
import { groupCurve } from '../../core/simulate/curves';
import { planDistance, predictionOf, predictionText } from '../../core/simulate/uncertainty';
import type { CalibrationFit } from '../../core/simulate/cost-model';
import { plan, unitCosts } from './helpers';

test('robust pieces: a line through outliers, a non-decreasing fit, a spike found, the least change that fits', () => {
  const xs = [1, 2, 3, 4, 5, 6, 7];
  const ys = xs.map((x) => 2 + 3 * x);
  ys[5] = 100;
  assert.deepEqual(theilSen(xs, ys), { a: 2, b: 3 });
  assert.deepEqual(isotonic([1, 3, 2, 4]), [1, 2.5, 2.5, 4]);
  assert.ok(Math.abs(robustSd([1, 1, 1, 1, 50])) < 1e-12);
  const sizes = [1, 2, 4, 8, 16, 32];
  const times = sizes.map((s) => 0.5 + s);
  times[3] = 40; // the 8-sample point 4.5x too slow
  assert.deepEqual(curveOutliers(sizes, times), [false, false, false, true, false, false]);
  assert.deepEqual(curveOutliers(sizes.slice(0, 3), times.slice(0, 3)), [false, false, false], 'too few points to judge');
  // Two stages, two groups: stage 0 = 1 of group 0 + 2 of group 1 (ms), stage 1 = 3 of group 1; measured 4 and 4.5.
  const rho = leastChange([[1, 2], [0, 3]], [4, 4.5], [1, 1]);
  assert.ok(Math.abs(1 * rho[0] + 2 * rho[1] - 4) < 0.05 && Math.abs(3 * rho[1] - 4.5) < 0.05, `${rho}`);
});

test('a group\'s curve: the median over its layers, the spike dropped, never falling with size', () => {
  const layer = (k: number) => [1, 2, 4, 8, 16].map((size) => ({ size, forwardMs: size * k, backwardMs: 2 * size * k }));
  const spiky = layer(1).map((p) => (p.size === 4 ? { ...p, forwardMs: 40, backwardMs: 80 } : p));
  const dip = layer(1).map((p) => (p.size === 8 ? { ...p, forwardMs: 7.5 } : p));
  const c = groupCurve([spiky, dip, dip.map((p) => ({ ...p }))]);
  assert.deepEqual(c.map((p) => p.size), [1, 2, 4, 8, 16]);
  assert.deepEqual(c.map((p) => p.forwardMs), [1, 2, 4, 7.5, 16], 'the median of three layers at each size');
  const alone = groupCurve([spiky]);
  assert.deepEqual(alone.map((p) => p.size), [1, 2, 8, 16], 'one layer\'s spike is dropped');
  for (let i = 1; i < alone.length; i++) assert.ok(alone[i].forwardMs >= alone[i - 1].forwardMs && alone[i].backwardMs >= alone[i - 1].backwardMs);
});

test('a prediction\'s interval: the run\'s spread and the fit\'s residual on its own plan, growing with the distance from it', () => {
  const c = unitCosts(4);
  const traced = plan([2, 2], 4);
  assert.equal(predictionOf(c, traced, 16, 100).relative, 0, 'a hand-made cost model has no interval');
  const fit: CalibrationFit = { tracedSamples: 4, tracedBalance: [2, 2], stepSpread: 0.02, steps: 8, residual: 0.01, shapeSpread: 0.05, probeNoise: 0.03, probed: true };
  c.fit = fit;
  const own = predictionOf(c, traced, 16, 100);
  assert.ok(Math.abs(own.relative - 2 * Math.hypot(0.02, 0.01)) < 1e-12);
  assert.ok(Math.abs(own.lowMs - 100 * (1 - own.relative)) < 1e-9 && Math.abs(own.highMs - 100 * (1 + own.relative)) < 1e-9);
  assert.deepEqual(planDistance(fit, plan([3, 1], 16), 16), { sizes: 2, moved: 1 });
  const moved = predictionOf(c, plan([3, 1], 4), 16, 100).relative;
  const resized = predictionOf(c, plan([2, 2], 16), 16, 100).relative;
  const both = predictionOf(c, plan([3, 1], 16), 16, 100).relative;
  assert.ok(own.relative < moved && own.relative < resized && moved < both && resized < both);
  assert.equal(predictionText(own), `100.0 ms ± ${(own.relative * 100).toFixed(1)} %`);
});
