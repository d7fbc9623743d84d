// A pipeline from any engine's Kineto trace: ranks → stages from the p2p process groups, ops from engine markers or the p2p pattern, steps from one rank's iteration period.
import type { StepRecord } from './schema';
import type { EngineMarker, KinetoRank } from './kineto';
import { OP, windowAt } from './timeline';

/*
 * Rules (what a reader of a reconstructed pipeline needs):
 * - Stages: a rank's pipeline group is the process group its point-to-point NCCL kernels (Send, Recv, SendRecv) name in
 *   their args ("Process Group Ranks"): a group of three or more ranks is the pipeline itself (stage = position in the
 *   sorted list, as torch.distributed.pipelining, torchtitan and Megatron number pipeline ranks); groups of two
 *   (DeepSpeed's per-pair groups) chain into a path whose first stage is the end that sends before it receives. Without
 *   group args, a pg_config group named for the pipeline (pp, pipe) that holds the rank; else the peers its p2p ops name
 *   (gloo's c10d::send/recv_ calls in a CPU-only trace, kineto-cpu.ts), each a pair chained as above (a peer is a rank
 *   of the call's process group: without a group named for the pipeline, the default group's, i.e. the global rank).
 *   Each disjoint pipeline is one data-parallel replica, numbered by its first stage's rank.
 * - Ops: each engine's markers where present (GPipe's `Forward {i}` / `Backward {i}`, DeepSpeed's `_exec_*` and
 *   Megatron's `forward_step` / `backward_step` python_function ranges): a compute kernel belongs to the marker whose
 *   CPU range holds its launch, launched from the marker's thread or by the autograd engine (backward kernels are
 *   launched from its thread). Without markers, the p2p pattern: compute kernels in launch order, cut at every p2p
 *   kernel (in a CPU-only trace also at every other collective outside backward: the thread blocks in it) and every
 *   change between autograd and other work: the autograd engine's runs are backwards (B), the others
 *   forwards (F) (on a stage after the first, only once its step has received: work before that, such as data loading,
 *   is KERNEL), non-autograd runs after a step's last backward the optimizer (OPT). (In a CPU-only trace the "kernels"
 *   are top-level CPU ops and the autograd engine's are its evaluate_function ops: kineto-cpu.ts.) Micro-batches follow
 *   the order of F (and of B) within a step unless the marker names them. Each p2p kernel is a SEND or RECV (its
 *   "Collective name"; a fused SendRecv counts as RECV) of the compute op launched before it (SEND) or after it (RECV),
 *   whose kind gives the peer: activations go forward, gradients back. Other collectives are ALLREDUCE (all-reduce,
 *   reduce-scatter, all-gather: data-parallel gradient sync) or COMM ops.
 * - Times are the GPU's: an op spans its kernels, first start to last end (the CPU runs ahead of them); in a CPU-only
 *   trace, its top-level CPU ops' (kineto-cpu.ts).
 * - Steps: one rank's iteration period (the first stage of the first replica): step t runs from the start of the first
 *   GPU work that step t launched there to the start of step t+1's, the last step to the end of its GPU work on any rank.
 *   Merging every rank's ProfilerStep window would add the pipeline's fill and drain stagger to each step.
 */

/** A rank being placed: its file, where its ts sit on the run clock, and its row. */
export interface Placed {
  r: KinetoRank & { rank: number };
  /** First and last time in the file's µs. */
  lo: number;
  hi: number;
  /** Added to the file's ts: base difference, skew and run origin. */
  offset: number;
  skew: number;
  /** `PP:` stages it ran (sorted), row and replica. */
  stages: number[];
  row: number;
  replica: number;
  /** Latest end and earliest start of the GPU work each step launched, on the run clock. */
  tail: Map<number, number>;
  head: Map<number, number>;
  /** Which rule identified its ops (RankInfo.opsRule). */
  rule: string;
}

/** One reconstructed op before it goes into the OpTable. */
export interface RawOp {
  kind: number; stage: number; replica: number; microbatch: number; chunk: number; step: number; peer: number; start: number; dur: number; bytes: number; label: number;
}

const P2P = new Set(['Send', 'Recv', 'SendRecv']);
const SYNC = new Set(['AllReduce', 'ReduceScatter', 'AllGather']);
const isP2P = (r: KinetoRank, i: number) => r.gpu.kind[i] === OP.COMM && r.gpu.label[i] >= 0 && P2P.has(r.labels[r.gpu.label[i]]);

/** Where each rank sits: stage and replica, or why the ranks form no pipeline. */
export type Layout = { ok: true; stages: number; at: Map<number, { stage: number; replica: number }>; outside: number[] } | { ok: false; why: string };

/** Ranks → stages and replicas from the p2p process groups (see the rules above). */
export function pipelineLayout(placed: Placed[]): Layout {
  const withP2P = placed.filter((p) => Array.from({ length: p.r.gpu.length }, (_, i) => i).some((i) => isP2P(p.r, i)));
  if (!withP2P.length)
    return { ok: false, why: placed.length === 1 ? 'one rank, and it ran no point-to-point (Send/Recv) NCCL kernel' : `none of the ${placed.length} ranks ran a point-to-point (Send/Recv) NCCL kernel, so no rank feeds another` };
  const pipelines: number[][] = [];
  const pairs: [number, number][] = [];
  const unnamed: number[] = [];
  for (const p of withP2P) {
    const counts = new Map<number, number>();
    for (let i = 0; i < p.r.gpu.length; i++) if (isP2P(p.r, i) && p.r.gpu.group[i] >= 0) counts.set(p.r.gpu.group[i], (counts.get(p.r.gpu.group[i]) ?? 0) + 1);
    const groups = [...counts.keys()].map((g) => p.r.groupRanks[g]).filter((g) => g.includes(p.r.rank));
    const big = groups.filter((g) => g.length > 2).sort((a, b) => b.length - a.length)[0];
    if (big) pipelines.push(big.slice().sort((a, b) => a - b));
    else if (groups.length) for (const g of groups) pairs.push([g[0], g[1]]);
    else {
      const named = p.r.pgConfig.find((g) => /(^|[^a-z])(pp|pipe|pipeline)([^a-z]|$)/i.test(`${g.name} ${g.desc}`) && g.ranks.includes(p.r.rank) && g.ranks.length > 1);
      const peers = new Set<number>();
      for (let i = 0; i < p.r.gpu.length; i++) if (isP2P(p.r, i) && p.r.gpu.peer[i] >= 0 && p.r.gpu.peer[i] !== p.r.rank) peers.add(p.r.gpu.peer[i]);
      if (named) pipelines.push(named.ranks.slice().sort((a, b) => a - b));
      else if (peers.size) for (const q of peers) pairs.push([p.r.rank, q]);
      else unnamed.push(p.r.rank);
    }
  }
  if (unnamed.length && !pipelines.length && !pairs.length)
    return { ok: false, why: `the point-to-point ops of rank(s) ${unnamed.join(', ')} name no process group ("Process Group Ranks" in their args) and no peer (a c10d::send/recv_ call's concrete inputs), and no pg_config group is named for the pipeline (pp, pipe), so stages cannot be told apart; profile with record_shapes=True and a PyTorch that records communication args (≥ 2.2)` };
  // Pairs chain into paths: each connected component is one pipeline.
  const adj = new Map<number, Set<number>>();
  for (const [a, b] of pairs) {
    if (!adj.has(a)) adj.set(a, new Set());
    if (!adj.has(b)) adj.set(b, new Set());
    adj.get(a)!.add(b);
    adj.get(b)!.add(a);
  }
  const seen = new Set<number>();
  for (const start of [...adj.keys()].sort((a, b) => a - b)) {
    if (seen.has(start)) continue;
    const comp: number[] = [];
    const stack = [start];
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      comp.push(x);
      for (const y of adj.get(x)!) stack.push(y);
    }
    const ends = comp.filter((x) => adj.get(x)!.size === 1);
    if (comp.some((x) => adj.get(x)!.size > 2) || ends.length !== 2)
      return { ok: false, why: `ranks ${comp.sort((a, b) => a - b).join(', ')} exchange point-to-point messages in a ${ends.length ? 'tree' : 'ring'}, not a chain of stages` };
    const first = firstSender(placed, ends) ?? Math.min(...ends);
    const path = [first];
    while (path.length < comp.length) path.push([...adj.get(path[path.length - 1])!].find((y) => !path.includes(y))!);
    pipelines.push(path);
  }
  // One entry per distinct pipeline; the same rank in two pipelines is no pipeline parallelism we can draw.
  const distinct = [...new Map(pipelines.map((p) => [p.join(','), p])).values()].sort((a, b) => a[0] - b[0]);
  const at = new Map<number, { stage: number; replica: number }>();
  for (const [replica, pipe] of distinct.entries())
    for (const [stage, rank] of pipe.entries()) {
      const other = at.get(rank);
      if (other) return { ok: false, why: `rank ${rank} is in two pipeline groups ([${distinct[other.replica].join(',')}] and [${pipe.join(',')}]), so its stage is ambiguous` };
      at.set(rank, { stage, replica });
    }
  const stages = Math.max(...distinct.map((p) => p.length));
  if (stages < 2) return { ok: false, why: 'the pipeline groups hold one rank each' };
  return { ok: true, stages, at, outside: placed.filter((p) => !at.has(p.r.rank)).map((p) => p.r.rank) };
}

/** Of a chain's two end ranks, the one whose first p2p kernel in launch order is a Send (the first stage), when the trace says. */
function firstSender(placed: Placed[], ends: number[]): number | null {
  for (const rank of ends) {
    const p = placed.find((q) => q.r.rank === rank);
    if (!p) continue;
    let best = -1;
    const when = (i: number) => (Number.isNaN(p.r.gpu.launch[i]) ? p.r.gpu.start[i] : p.r.gpu.launch[i]);
    for (let i = 0; i < p.r.gpu.length; i++) if (isP2P(p.r, i) && (best < 0 || when(i) < when(best))) best = i;
    if (best < 0) continue;
    const label = p.r.labels[p.r.gpu.label[best]];
    if (label === 'Send') return rank;
    if (label === 'Recv') return ends.find((e) => e !== rank) ?? null;
  }
  return null;
}

/** The marker rule most of a rank's markers follow (an engine writes one kind), or null without markers. */
export function markerRule(r: KinetoRank): EngineMarker['rule'] | null {
  const counts = new Map<string, number>();
  for (const m of r.markers) counts.set(m.rule, (counts.get(m.rule) ?? 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  return top ? (top[0] as EngineMarker['rule']) : null;
}

/**
 * A rank's ops by its markers, else by the p2p pattern (rules above); appends to `out`, tracks each step's GPU head and
 * tail on `p`, and returns the rule used. `labelOf` interns a label (collective names) into the Timeline's list.
 */
export function engineOps(p: Placed, S: number, labelOf: (s: string) => number, out: RawOp[]): string {
  const r = p.r;
  const g = r.gpu;
  const rule = markerRule(r);
  const markers = rule ? r.markers.filter((m) => m.rule === rule) : [];
  const when = (i: number) => (Number.isNaN(g.launch[i]) ? g.start[i] : g.launch[i]);
  const order = Array.from({ length: g.length }, (_, i) => i).sort((a, b) => when(a) - when(b) || a - b);
  const stepOf = (t: number) => {
    const w = windowAt(r.steps, t);
    return w < 0 ? -1 : r.steps[w].step;
  };
  /** The marker whose range holds time t for a launch from thread tid (`auto`: by the autograd engine), or -1. */
  const markerAt = (t: number, tid: number, auto: boolean) => {
    let lo = 0;
    let hi = markers.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (markers[mid].ts <= t) lo = mid + 1;
      else hi = mid - 1;
    }
    for (let k = hi; k >= 0 && k > hi - 4; k--) {
      const m = markers[k];
      if (t <= m.ts + m.dur && (tid === m.tid || auto || Number.isNaN(tid))) return k;
    }
    return -1;
  };
  interface Seg { kind: 'F' | 'B' | 'OPT' | 'KERNEL'; mb: number; step: number; first: number; lo: number; hi: number; auto: boolean; marker: number }
  const segs: Seg[] = [];
  const ofMarker = new Map<number, Seg>();
  const p2p: number[] = [];
  const others: number[] = [];
  let cur: Seg | null = null;
  /** Steps in which this rank has received (a p2p Recv or SendRecv launched). */
  const received = new Set<number>();
  for (const i of order) {
    if (g.kind[i] === OP.COMM) {
      if (isP2P(r, i)) p2p.push(i);
      if (isP2P(r, i) && r.labels[g.label[i]] !== 'Send') received.add(stepOf(when(i)));
      else others.push(i);
      // A p2p kernel ends a run; on CPU so does any collective outside backward (the calling thread blocks in it, where
      // a GPU runs collectives on their own stream beside compute).
      if (cur && cur.marker < 0 && (isP2P(r, i) || (r.timedOn === 'cpu' && !cur.auto))) cur = null;
      continue;
    }
    if (g.kind[i] !== OP.KERNEL) continue;
    const t = when(i);
    const tid = g.launchTid[i];
    const auto = g.backward[i] === 1;
    const mk = markers.length ? markerAt(t, tid, auto) : -1;
    const step = stepOf(t);
    const same = cur && cur.step === step && (mk >= 0 ? cur.marker === mk : cur.marker < 0 && cur.auto === auto);
    if (!same) {
      // Without markers, a later stage's forward needs an input received first: work before its step's first receive
      // (data loading, zero_grad) is no forward.
      const kind: Seg['kind'] = mk >= 0 ? markers[mk].kind : markers.length ? 'KERNEL' : auto ? 'B' : p.row > 0 && !received.has(step) ? 'KERNEL' : 'F';
      cur = { kind, mb: mk >= 0 ? markers[mk].microbatch : -1, step, first: t, lo: g.start[i], hi: g.start[i] + g.dur[i], auto, marker: mk };
      // One marker, one op, even when its kernels are interleaved with another range's.
      const prior = mk >= 0 ? ofMarker.get(mk) : undefined;
      if (prior) cur = prior;
      else {
        segs.push(cur);
        if (mk >= 0) ofMarker.set(mk, cur);
      }
    }
    cur!.lo = Math.min(cur!.lo, g.start[i]);
    cur!.hi = Math.max(cur!.hi, g.start[i] + g.dur[i]);
  }
  // Runs after a step's last backward are its optimizer step; other unmarked runs stay kernels (busy, not F or B).
  const lastB = new Map<number, number>();
  for (const s of segs) if (s.kind === 'B') lastB.set(s.step, Math.max(lastB.get(s.step) ?? -Infinity, s.first));
  for (const s of segs) if ((s.kind === 'F' || s.kind === 'KERNEL') && s.marker < 0 && s.first > (lastB.get(s.step) ?? Infinity)) s.kind = 'OPT';
  // Micro-batches in order per step and kind, unless the marker named them.
  const next = new Map<string, number>();
  for (const s of segs) {
    if (s.kind !== 'F' && s.kind !== 'B') continue;
    const key = `${s.step}:${s.kind}`;
    const n = next.get(key) ?? 0;
    if (s.mb < 0) s.mb = n;
    next.set(key, Math.max(n, s.mb) + 1);
  }
  const track = (step: number, a: number, b: number) => {
    if (step < 0) return;
    p.tail.set(step, Math.max(p.tail.get(step) ?? -Infinity, b));
    p.head.set(step, Math.min(p.head.get(step) ?? Infinity, a));
  };
  const push = (kind: number, step: number, mb: number, peer: number, a: number, b: number, bytes: number, label: number) => {
    out.push({ kind, stage: p.row, replica: p.replica, microbatch: mb, chunk: -1, step, peer, start: a + p.offset, dur: b - a, bytes, label });
    track(step, a + p.offset, b + p.offset);
  };
  for (const s of segs) push(OP[s.kind], s.step, s.kind === 'F' || s.kind === 'B' ? s.mb : -1, -1, s.lo, s.hi, 0, -1);
  // p2p kernels: SEND of the compute op launched before, RECV of the one launched after.
  const byFirst = segs.filter((s) => s.kind === 'F' || s.kind === 'B').sort((a, b) => a.first - b.first);
  const before = (t: number) => {
    let k = -1;
    for (let lo = 0, hi = byFirst.length - 1; lo <= hi; ) {
      const mid = (lo + hi) >> 1;
      if (byFirst[mid].first <= t) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return k;
  };
  for (const i of p2p) {
    const t = when(i);
    const label = r.labels[g.label[i]];
    const send = label === 'Send';
    const k = before(t);
    // A SEND inside a marker belongs to that marker's op; otherwise to the op launched before it. A RECV feeds the next op.
    const op = send ? byFirst[k] : byFirst[k + 1] ?? byFirst[k];
    const forward = op ? op.kind === 'F' : true;
    const peerStage = send ? (forward ? p.row + 1 : p.row - 1) : forward ? p.row - 1 : p.row + 1;
    push(send ? OP.SEND : OP.RECV, stepOf(t), op ? op.mb : -1, peerStage >= 0 && peerStage < S ? peerStage : -1, g.start[i], g.start[i] + g.dur[i], g.bytes[i], labelOf(label));
  }
  for (const i of others) {
    const label = g.label[i] >= 0 ? r.labels[g.label[i]] : 'NCCL';
    push(SYNC.has(label) ? OP.ALLREDUCE : OP.COMM, stepOf(when(i)), -1, -1, g.start[i], g.start[i] + g.dur[i], g.bytes[i], labelOf(label));
  }
  return rule ?? 'p2p pattern';
}

/** Steps as one rank's iteration period (rules above); `ref` is the first stage of the first replica. */
export function periodSteps(placed: Placed[], ref: Placed): StepRecord[] {
  const numbers = [...new Set(placed.flatMap((p) => p.r.steps.map((s) => s.step)))].sort((a, b) => a - b);
  const headOf = (step: number) => {
    const h = ref.head.get(step);
    if (h !== undefined) return h;
    const w = ref.r.steps.find((s) => s.step === step);
    return w ? w.startUs + ref.offset : Math.min(...placed.map((p) => p.head.get(step) ?? Infinity));
  };
  return numbers
    .map((step, k) => {
      const startUs = headOf(step);
      const last = Math.max(...placed.map((p) => p.tail.get(step) ?? -Infinity));
      const endUs = k + 1 < numbers.length ? headOf(numbers[k + 1]) : last;
      return { step, startUs, endUs: Number.isFinite(endUs) && endUs > startUs ? endUs : Math.max(startUs, last), loss: NaN, warmup: false };
    })
    .filter((s) => Number.isFinite(s.startUs));
}
