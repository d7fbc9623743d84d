// Writing a Timeline as a trace file: a predicted run reads back identically, and a measured one re-exports to its own events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { simulate } from '../../core/simulate/simulate';
import { timelineToTrace } from '../../core/trace/export';
import { timelineFromTrace } from '../../core/trace/import';
import { writeTimeline } from '../../core/io/write-trace';
import { readTimeline } from '../../core/io/read-trace';
import type { CompleteEvent, TraceEvent } from '../../core/trace/schema';
import type { Timeline } from '../../core/trace/timeline';
import { smallRun } from '../runtime/run';
import { tmpdir } from '../helpers';
import { plan, richCosts, summaries } from './helpers';

const isX = (e: TraceEvent): e is CompleteEvent => e.ph === 'X';
const columns = (t: Timeline) => Object.fromEntries(Object.entries(t.ops).map(([k, v]) => [k, typeof v === 'number' ? v : Array.from(v as ArrayLike<number>)]));

function predicted(): Timeline {
  const c = richCosts();
  return simulate({ plan: plan([2, 1, 3], 4, '1f1b', 'except-last'), batch: 8, costs: c, layers: summaries(c), steps: 2, model: { name: 'mlp', options: { width: 8 }, loss: 'softmax-ce' } });
}

test('a predicted timeline written as a trace reads back as the same timeline, marked predicted', async () => {
  const t = predicted();
  const file = path.join(tmpdir(), 'predicted.pptrace.json');
  const written = await writeTimeline(file, t);
  assert.equal((written.pipeprof as unknown as { source: string }).source, 'predicted');
  const back = await readTimeline(file);
  assert.equal(back.source, 'predicted');
  assert.equal(back.status, 'complete');
  assert.deepEqual(back.plan, t.plan);
  assert.equal(back.batch, 8);
  assert.deepEqual(back.model, t.model);
  assert.deepEqual(back.layers, t.layers);
  assert.deepEqual(back.layerCosts, t.layerCosts);
  assert.deepEqual(back.steps.map((s) => [s.step, s.startUs, s.endUs, s.warmup]), t.steps.map((s) => [s.step, s.startUs, s.endUs, s.warmup]));
  assert.deepEqual(columns(back), columns(t));
  assert.deepEqual(back.memory, t.memory);
});

test('a predicted trace has what a captured one has: process and lane names, flows SEND→RECV, memory counters, no overlap within a lane', () => {
  const trace = timelineToTrace(predicted());
  const ev = trace.traceEvents;
  assert.deepEqual(ev.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => (e as unknown as { args: { name: string } }).args.name), ['stage 0 · layers 0–1', 'stage 1 · layer 2', 'stage 2 · layers 3–5']);
  const sends = ev.filter(isX).filter((e) => e.args.op === 'SEND');
  assert.deepEqual([...new Set(sends.map((e) => e.name))].sort(), ['SEND act', 'SEND grad']);
  const starts = ev.filter((e) => e.ph === 's');
  const finishes = new Map(ev.filter((e) => e.ph === 'f').map((e) => [(e as { id: number }).id, e as { ts: number }]));
  assert.equal(starts.length, sends.length);
  assert.equal(finishes.size, sends.length);
  for (const s of starts) assert.ok(finishes.get((s as { id: number }).id)!.ts >= (s as { ts: number }).ts - 1e-6);
  for (let s = 0; s < 3; s++) assert.ok(ev.some((e) => e.ph === 'C' && e.name === 'memory' && e.pid === s));
  const lanes = new Map<string, CompleteEvent[]>();
  for (const e of ev.filter(isX)) lanes.set(`${e.pid}/${e.tid}`, [...(lanes.get(`${e.pid}/${e.tid}`) ?? []), e]);
  for (const [lane, es] of lanes) {
    es.sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < es.length; i++) assert.ok(es[i].ts >= es[i - 1].ts + es[i - 1].dur - 1e-6, `overlap on lane ${lane}`);
  }
  // No loss was predicted, so none is written.
  assert.equal(ev.filter((e) => e.ph === 'C' && e.name === 'loss').length, 0);
});

test('a captured trace, imported and exported again, has the same op events, flows and metadata', async () => {
  const { trace } = await smallRun('mlp', { balance: [1, 2, 1], microbatches: 2, recompute: 'except-last' }, { steps: 2, warmup: 1, saveWeights: false });
  const again = timelineToTrace(timelineFromTrace(JSON.parse(JSON.stringify(trace)), 'run.pptrace.json'));
  const key = (e: CompleteEvent) => JSON.stringify([e.pid, e.tid, e.ts, e.dur, e.name, e.cat, Object.entries(e.args).sort()]);
  assert.deepEqual(again.traceEvents.filter(isX).map(key).sort(), trace.traceEvents.filter(isX).map(key).sort());
  const flows = (t: typeof trace) => t.traceEvents.filter((e) => e.ph === 's' || e.ph === 'f').map((e) => `${e.ph}${(e as { id: number }).id}@${(e as { pid: number }).pid}`).sort();
  assert.deepEqual(flows(again), flows(trace));
  assert.equal(again.traceEvents.filter((e) => e.ph === 'C' && e.name === 'memory').length, trace.traceEvents.filter((e) => e.ph === 'C' && e.name === 'memory').length);
  assert.equal(again.traceEvents.filter((e) => e.ph === 'C' && e.name === 'loss').length, 3);
  assert.deepEqual(again.pipeprof.plan, trace.pipeprof.plan);
  assert.deepEqual(again.pipeprof.layers, trace.pipeprof.layers);
  assert.deepEqual(again.pipeprof.steps, trace.pipeprof.steps);
  assert.equal((again.pipeprof as unknown as { source: string }).source, 'measured');
});

test('a timeline without a plan cannot be written as a trace, and says why', () => {
  assert.throws(() => timelineToTrace({ ...predicted(), plan: null }), /no plan, and a trace file names its stages from it/);
});
