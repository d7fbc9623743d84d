// Summary line and predicted-vs-measured deltas, as text parts built from reports.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Report } from '../../core/analysis/report';
import { compareDeltas, planText, summaryParts } from '../../media/src/summary';
import { syntheticRun } from './harness';
import { simulate } from '../../core/simulate/simulate';
import { buildReport } from '../../core/analysis/report';
import { formatReport } from '../../cli/report';
import { summaries, unitCosts } from '../simulate/helpers';

test('summaryParts: plan, step time, samples/s, bubble with the analytic value, overlap, straggler', () => {
  const run = syntheticRun(2000, { stages: 2, microbatches: 4 });
  const parts = summaryParts(run.report);
  assert.deepEqual(parts.map((p) => p.key), ['plan', 'step', 'throughput', 'bubble', 'overlap', 'straggler']);
  const r = run.report;
  const byKey = Object.fromEntries(parts.map((p) => [p.key, p.value]));
  assert.equal(byKey.plan, '2 stages [4,4], 4 micro-batches, 1f1b, recompute never');
  assert.match(byKey.step, /^\d+\.\d+ ms$/);
  assert.equal(byKey.throughput, r.samplesPerSec!.toFixed(1));
  assert.match(byKey.bubble, /^\d+\.\d% \(analytic 20\.0%\)$/, '(S−1)/(M+S−1) = 1/5');
  assert.match(byKey.straggler, /^stage \d \([+−±]\d+\.\d% busy vs mean\)$/);
  const title = parts.find((p) => p.key === 'step')!.title;
  if (r.measuredSteps > 1) assert.match(title, /; range \d+\.\d+ ms–\d+\.\d+ ms(; slow: step \d+(, \d+)*)?$/);
});

test("the step time's tooltip: median, mean, range and the slow steps", () => {
  const report = { plan: null, stepTimeMs: 10, meanStepMs: 10.5, measuredSteps: 4, stepTimeSpread: { minMs: 9, maxMs: 12, relative: 0.3, slowSteps: [3] }, samplesPerSec: null, batch: null, bubbleFraction: 0.5, analyticBubbleFraction: null, overlapFraction: null, commMs: 0, straggler: null } as unknown as Report;
  assert.equal(summaryParts(report).find((p) => p.key === 'step')!.title, 'median of 4 measured step(s); mean 10.50 ms; range 9.00 ms–12.00 ms; slow: step 3');
});

test('summaryParts copes with a report missing optional numbers', () => {
  const parts = summaryParts({ plan: null, stepTimeMs: 10, meanStepMs: 10, measuredSteps: 1, samplesPerSec: null, batch: null, bubbleFraction: 0.5, analyticBubbleFraction: null, overlapFraction: null, commMs: 0, straggler: null } as unknown as Report);
  const byKey = Object.fromEntries(parts.map((p) => [p.key, p.value]));
  assert.deepEqual(byKey, { step: '10.00 ms', throughput: '–', bubble: '50.0%', overlap: 'no communication' });
  assert.equal(planText({ plan: null } as unknown as Report), '');
  // Interleaved: the balance lists 4 virtual stages of 2 stages.
  const inter = { balance: [1, 1, 1, 1], chunks: 2, microbatches: 2, schedule: 'interleaved-1f1b', recompute: 'never', replicas: 1 };
  assert.equal(planText({ plan: inter } as unknown as Report), '2 stages × 2 chunks [1,1,1,1], 2 micro-batches, interleaved-1f1b, recompute never');
});

test('the text report counts stages, not virtual stages, on an interleaved plan', () => {
  const t = simulate({ plan: { balance: [1, 1, 1, 1], chunks: 2, microbatches: 2, schedule: 'interleaved-1f1b', recompute: 'never', replicas: 1 }, batch: 4, costs: unitCosts(4, { mb: 2 }), layers: summaries(unitCosts(4, { mb: 2 })) });
  assert.match(formatReport(buildReport(t), 'i.pptrace.json'), /\nplan {8}2 stages, balance \[1,1,1,1\] \(2 stages × 2 chunks\), 2 micro-batches, interleaved-1f1b/);
});

test('compareDeltas: step time in ms and %, bubble in percentage points', () => {
  const m = { stepTimeMs: 477, bubbleFraction: 0.238 } as Report;
  const p = { stepTimeMs: 446, bubbleFraction: 0.314 } as Report;
  const [step, bubble] = compareDeltas(m, p);
  assert.equal(step.delta, -31);
  assert.ok(Math.abs(step.relative! + 31 / 477) < 1e-12);
  assert.equal(step.text, '446.0 ms predicted vs 477.0 ms measured (−31.0 ms, −6.5%)');
  assert.ok(Math.abs(bubble.delta - 0.076) < 1e-12);
  assert.equal(bubble.text, '31.4% predicted vs 23.8% measured (+7.6 pp)');
  assert.deepEqual(compareDeltas({ stepTimeMs: NaN, bubbleFraction: NaN } as Report, p), []);
});
