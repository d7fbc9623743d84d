// Exporter: a Timeline (measured or predicted) → the trace file object a capture writes, so either opens the same way.
import type { CompleteEvent, CounterEvent, FlowEvent, HostInfo, TraceEvent, TraceFile, TraceMeta } from './schema';
import { LANE } from './schema';
import type { Timeline } from './timeline';
import { OP_KINDS } from './timeline';
import { buildTraceFile } from './chrome';
import { flowId } from './recorder';

const NO_HOST: HostInfo = { platform: 'simulated', arch: '', cpus: 0, cpuModel: '', memoryBytes: 0, node: '', tfjs: '' };

/** The trace file of a Timeline: the same events, lanes, flows, counters and metadata a capture writes; `pipeprof.source` says which it was. */
export function timelineToTrace(t: Timeline): TraceFile {
  if (!t.plan && t.origin !== 'kineto') throw new Error('timelineToTrace: the timeline has no plan, and a trace file names its stages from it; export a timeline from pipeprof capture or simulate');
  const S = t.stages;
  const ops = t.ops;
  const pidOf = (stage: number, replica: number) => stage + replica * S;
  const events: TraceEvent[] = [];
  const labels = t.labels ?? [];
  // An imported PyTorch pipeline also keeps the kernels under its pipeline ops (flagged: they go back to Timeline.kernels).
  if (t.kernels && t.kernels !== ops) {
    const k = t.kernels;
    for (let i = 0; i < k.length; i++) {
      const op = OP_KINDS[k.kind[i]];
      const args: CompleteEvent['args'] = { op, stage: k.stage[i], step: k.step[i], kernel: true };
      if (k.replica[i] > 0) args.replica = k.replica[i];
      if (k.bytes[i]) args.bytes = k.bytes[i];
      if (k.label && k.label[i] >= 0) args.label = labels[k.label[i]];
      if (k.launch && Number.isFinite(k.launch[i])) args.launch = k.launch[i];
      if (k.hta && k.hta[i]) args.hta = k.hta[i];
      events.push({ ph: 'X', pid: pidOf(k.stage[i], k.replica[i]), tid: k.lane[i], ts: k.start[i], dur: k.dur[i], name: op, cat: op === 'COMM' ? 'comm' : 'compute', args });
    }
  }
  /** The RECV matching each SEND, by (step, micro-batch, from, to). */
  const recvAt = new Map<string, number>();
  for (let i = 0; i < ops.length; i++)
    if (OP_KINDS[ops.kind[i]] === 'RECV') recvAt.set(`${ops.step[i]}/${ops.microbatch[i]}/${ops.peer[i]}>${ops.stage[i]}/${ops.replica[i]}`, i);
  for (let i = 0; i < ops.length; i++) {
    const op = OP_KINDS[ops.kind[i]];
    const stage = ops.stage[i];
    const replica = ops.replica[i];
    const pid = pidOf(stage, replica);
    const comm = op === 'SEND' || op === 'RECV' || op === 'ALLREDUCE' || op === 'COMM';
    const peer = ops.peer[i];
    // Activations flow to later stages, gradients to earlier ones.
    const what = op === 'SEND' ? (peer > stage ? 'act' : 'grad') : op === 'RECV' ? (peer < stage ? 'act' : 'grad') : null;
    const args: CompleteEvent['args'] = { op, stage, step: ops.step[i] };
    if (ops.microbatch[i] >= 0) args.microbatch = ops.microbatch[i];
    if (peer >= 0) args.peer = peer;
    if (comm) args.bytes = ops.bytes[i];
    if (ops.chunk[i] >= 0) args.chunk = ops.chunk[i];
    if (replica > 0) args.replica = replica;
    if (ops.label && ops.label[i] >= 0) args.label = labels[ops.label[i]];
    if (ops.launch && Number.isFinite(ops.launch[i])) args.launch = ops.launch[i];
    if (ops.hta && ops.hta[i]) args.hta = ops.hta[i];
    events.push({ ph: 'X', pid, tid: ops.lane[i], ts: ops.start[i], dur: ops.dur[i], name: what ? `${op} ${what}` : args.label ? `${op} ${args.label}` : op, cat: comm ? 'comm' : 'compute', args });
    if (op === 'SEND' && what) {
      const j = recvAt.get(`${ops.step[i]}/${ops.microbatch[i]}/${stage}>${peer}/${replica}`);
      if (j === undefined) continue;
      const id = flowId(ops.step[i], Math.max(0, ops.microbatch[i]), what, stage, Math.max(0, ops.chunk[i]));
      const end = ops.start[j] + ops.dur[j];
      events.push({ ph: 's', id, pid, tid: LANE.send, ts: ops.start[i], name: what, cat: 'flow' } satisfies FlowEvent);
      events.push({ ph: 'f', id, pid: pidOf(peer, replica), tid: LANE.recv, ts: Math.min(end, Math.max(ops.start[j], ops.start[i])), name: what, cat: 'flow', bp: 'e' } satisfies FlowEvent);
    }
  }
  for (const m of t.memory) events.push({ ph: 'C', pid: m.stage, ts: m.ts, name: 'memory', args: { bytes: m.bytes } } satisfies CounterEvent);
  for (const s of t.steps) if (Number.isFinite(s.loss)) events.push({ ph: 'C', pid: S - 1, ts: s.endUs, name: 'loss', args: { loss: s.loss } } satisfies CounterEvent);
  const warmup = t.steps.filter((s) => s.warmup).length;
  const meta: Omit<TraceMeta, 'version'> & { source: Timeline['source'] } = {
    source: t.source,
    status: t.status,
    plan: t.plan,
    model: t.model ?? { name: 'unknown', options: {}, loss: '' },
    backend: t.backend ?? (t.source === 'predicted' ? 'simulated' : 'unknown'),
    host: t.host ?? NO_HOST,
    run: { batch: t.batch ?? 0, steps: t.steps.length - warmup, warmup, optimizer: '', lr: 0, seed: 0 },
    layers: t.layers,
    steps: t.steps,
    ...(t.layerCosts.length ? { layerCosts: t.layerCosts } : {}),
    ...(t.origin === 'kineto' ? { origin: 'kineto' as const, ranks: t.ranks ?? [] } : {}),
  };
  return buildTraceFile(events, meta);
}
