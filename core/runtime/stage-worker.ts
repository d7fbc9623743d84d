// One pipeline stage in a worker thread: runs its schedule's ops each step, moving tensors over MessagePorts, tracing every op.
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type * as tfc from '@tensorflow/tfjs-core';
import type { FromServer, FromStage, ReplicaMessage, StageInit, StatusOp, ToServer, ToStage, Transfer } from './protocol';
import { writeStatus } from './protocol';
import { Mailbox } from './mailbox';
import type { ReduceHooks, ReduceLink } from './allreduce';
import { allReduce } from './allreduce';
import { compress, wireBytes } from './compress';
import { keyed, normals } from '../model/rng';
import type { LayerImpl, Tensor } from './layers/types';
import type { LayerSpec } from '../model/types';
import type { ScheduledOp } from '../schedule/types';
import type { LayerCost } from '../trace/timeline';
import { loadBackend, isAsyncBackend, workDone } from './backends';
import type { GpuAdapter } from './backends';
import { Optimizer } from './optimizer';
import { Recorder, flowId } from '../trace/recorder';
import { makeSamples } from '../model/data';
import { initLayer } from '../model/init';
import { shapeSize } from '../model/types';
import { recomputes } from '../schedule/recompute';
import { median } from '../analysis/utilization';
import { probeShapeKey } from './probe-plan';

const init = workerData.init as StageInit;
/** Ports to the neighbouring stages' workers (of this replica), by stage: s−1 and s+1, and with model chunks S−1 ↔ 0. */
const links = (workerData.links ?? {}) as Record<number, MessagePort>;
/** Ports to the other replicas of this stage, by replica (null at this replica's own index). */
const peerPorts = (workerData.peers ?? []) as (MessagePort | null)[];
const serverPort = (workerData.server ?? null) as MessagePort | null;
const status = (workerData.status ?? null) as Int32Array | null;
const post = (m: FromStage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

/** Tensors arriving from neighbours, matched to the op that waits for them. */
const transferKey = (kind: Transfer['kind'], step: number, microbatch: number, chunk: number) => `${kind}:${step}:${microbatch}:${chunk}`;

interface StageLayer {
  spec: LayerSpec;
  impl: LayerImpl;
  weights: tfc.Variable[];
}

/** Messages of the replica all-reduce, matched by tag and sender. */
class ReduceInbox implements ReduceLink {
  private box = new Mailbox<ReplicaMessage>();
  put(m: ReplicaMessage): void {
    this.box.put(`${m.tag}|${m.from}`, m);
  }
  take(tag: string, from: number): Promise<ReplicaMessage> {
    return this.box.take(`${tag}|${from}`);
  }
  send(to: number, m: ReplicaMessage): void {
    peerPorts[to]!.postMessage(m, [m.packed.data.buffer as ArrayBuffer]);
  }
}

/** Lets queued messages (all-reduce hops) run between compute ops. */
const yieldToEvents = () => new Promise<void>((r) => setImmediate(r));

/** What a micro-batch leaves behind between its F and its B. */
interface Stash {
  input: Tensor;
  /** Per layer, what its backward needs; null after F when the micro-batch is recomputed. */
  saved: Tensor[][] | null;
  /** Every tensor to free after B (intermediates, outputs); disposal is idempotent. */
  owned: Tensor[];
  /** dL/dy of the last layer, on the last stage. */
  dy?: Tensor;
  /** PPRS: the perturbed weights this micro-batch's F, R and B use, per layer. */
  perturbed?: Tensor[][];
  /** Split backward (zb-h1): per layer, what its B kept for its W (see SplitBackward). */
  pending?: (Tensor[] | null)[];
}

async function main(): Promise<void> {
  const { stage, stages, model, plan, ops, batch, seed, optimizer: optCfg, backend, fault, replica } = init;
  /** Model chunks on this worker: chunk c is virtual stage c·S + s of V = S·v. */
  const V = stages * init.chunks.length;
  const vstage = (c: number) => c * stages + stage;
  const chunkArg = (c: number) => (init.chunks.length > 1 ? { chunk: c } : {});
  const splitW = ops.some((o) => o.op === 'W');
  const R = Math.max(1, plan.replicas);
  const { sync, allreduce: algo, compress: compression } = init.sync;
  const pid = stage + replica * stages;
  const rec = new Recorder(init.trace, pid, stage, init.t0Ms, R > 1 ? replica : undefined);
  let current: { op: string; step: number | null } = { op: 'init', step: null };
  const fail = (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    post({ type: 'error', stage, replica, op: current.op, step: current.step, message, events: rec.drain() });
  };

  let tf: typeof tfc;
  let gpu: GpuAdapter | undefined;
  try {
    ({ tf, gpu } = await loadBackend(backend));
  } catch (e) {
    fail(e);
    return;
  }
  const { makeLayer, splitBackward } = await import('./layers/index');
  const { lossAndGrad } = await import('./layers/loss');
  const chunkLayers: StageLayer[][] = init.chunks.map((ch) =>
    model.layers.slice(ch.firstLayer, ch.firstLayer + ch.layers).map((spec) => ({
      spec,
      impl: makeLayer(tf, spec),
      weights: initLayer(model, spec, seed).map((v, i) => tf.variable(tf.tensor(v, spec.weights[i].shape), true, `${spec.name}/${spec.weights[i].name}`)),
    })),
  );
  /** Each layer's backward split into B and W (zb-h1). */
  const splits = chunkLayers.map((ls) => ls.map((l) => splitBackward(l.impl)));
  /** Every layer of the worker in model order (chunk 0's first). */
  const layers = chunkLayers.flat();
  const allWeights = layers.flatMap((l) => l.weights);
  /** Index in allWeights of each chunk's first weight. */
  const weightBase = chunkLayers.map((_, c) => chunkLayers.slice(0, c).reduce((n, ls) => n + ls.reduce((k, l) => k + l.weights.length, 0), 0));
  /** Index in allWeights just past each chunk's last weight. */
  const weightEnd = chunkLayers.map((ls, c) => weightBase[c] + ls.reduce((n, l) => n + l.weights.length, 0));
  // The op that completes a step's weight gradients: the last W when the backward is split, else the last B.
  const lastGradOp = ops.map((o) => o.op).lastIndexOf(splitW ? 'W' : 'B');
  const optimizer = new Optimizer(tf, optCfg, allWeights);
  const isFirst = (c: number) => vstage(c) === 0;
  const isLast = (c: number) => vstage(c) === V - 1;
  const hasLast = chunkLayers.some((_, c) => isLast(c));
  const M = plan.microbatches;
  const mb = batch / M;
  /** Samples of each micro-batch this replica takes: replica r takes the r-th share of every micro-batch. */
  const mbr = mb / R;
  const positions = Math.max(1, shapeSize(model.targetShape));
  const denom = batch * positions;
  const syncOutputs = isAsyncBackend(backend);
  /** On asynchronous backends: resolves when the GPU finished the work queued so far (`t`: the op's last output). */
  const gpuDone = (t?: Tensor | null) => workDone(tf, backend, t);

  const inbox = new Mailbox<Transfer>();
  const deliver = (t: Transfer) => inbox.put(transferKey(t.kind, t.step, t.microbatch, t.chunk), t);
  for (const port of Object.values(links)) port.on('message', deliver);
  const reduceInbox = new ReduceInbox();
  for (const p of peerPorts) p?.on('message', (m: ReplicaMessage) => reduceInbox.put(m));
  const pulls = new Map<number, (m: FromServer) => void>();
  serverPort?.on('message', (m: FromServer) => {
    pulls.get(m.step)?.(m);
    pulls.delete(m.step);
  });

  const memory = (ts: number) => {
    if (rec.enabled) rec.counter('memory', ts, { bytes: tf.memory().numBytes });
  };

  const injected = (o: { op: string }, step: number, phase: 'start' | 'output'): boolean =>
    !!fault && fault.stage === stage && (fault.replica ?? 0) === replica && fault.step === step && fault.op === o.op && (phase === 'output') === (fault.kind === 'nan');

  async function maybeFault(o: { op: string; microbatch?: number; chunk?: number }, step: number): Promise<void> {
    writeStatus(status, o.op as StatusOp, step, o.microbatch ?? -1, init.chunks.length > 1 ? (o.chunk ?? 0) : -1);
    if (!injected(o, step, 'start')) return;
    if (fault!.kind === 'throw') throw new Error(`injected fault in ${o.op} on stage ${stage}${R > 1 ? ` replica ${replica}` : ''}`);
    if (fault!.kind === 'exit') process.exit(3);
    if (fault!.kind === 'hang') await new Promise(() => undefined);
    if (fault!.kind === 'oom') {
      const hog: number[][] = [];
      for (;;) hog.push(new Array<number>(1 << 20).fill(hog.length + 0.5));
    }
  }

  /** Sends chunk c's activation to the next virtual stage (act) or its input gradient to the previous one (grad). */
  async function send(kind: Transfer['kind'], t: Tensor, step: number, microbatch: number, c: number): Promise<void> {
    const to = vstage(c) + (kind === 'act' ? 1 : -1);
    const peer = to % stages;
    current = { op: `SEND ${kind} micro-batch ${microbatch}`, step };
    const s0 = rec.now();
    const raw = (syncOutputs ? await t.data() : t.dataSync()) as Float32Array;
    // Own the buffer before transferring it: some backends hand out their storage.
    const data = backend === 'cpu' || raw.byteLength !== raw.buffer.byteLength ? raw.slice() : raw;
    const msg: Transfer = { kind, step, microbatch, chunk: Math.floor(to / stages), shape: t.shape, data, sentUs: s0 };
    const bytes = data.byteLength; // the buffer is detached once transferred
    // One stage with several chunks hands the tensor to itself.
    if (peer === stage) deliver(msg);
    else links[peer].postMessage(msg, [data.buffer as ArrayBuffer]);
    const s1 = rec.now();
    rec.op('SEND', step, s0, s1, { microbatch, peer, bytes, ...chunkArg(c) }, kind);
    rec.flow('s', flowId(step, microbatch, kind, pid, c), s0, kind);
  }

  async function recv(kind: Transfer['kind'], step: number, microbatch: number, c: number): Promise<Tensor> {
    const from = vstage(c) + (kind === 'act' ? -1 : 1);
    const peer = from % stages;
    current = { op: `RECV ${kind} micro-batch ${microbatch}`, step };
    const key = transferKey(kind, step, microbatch, c);
    if (!inbox.has(key)) prefetchInput(step); // untraced, like input loading before a forward
    const r0 = rec.now();
    const t = await inbox.take(key);
    const x = tf.tensor(t.data, t.shape, 'float32');
    const r1 = rec.now();
    rec.op('RECV', step, r0, r1, { microbatch, peer, bytes: t.data.byteLength, ...chunkArg(c) }, kind);
    rec.flow('f', flowId(step, microbatch, kind, peer + replica * stages, Math.floor(from / stages)), Math.min(r1, Math.max(r0, t.sentUs)), kind);
    return x;
  }

  /** Runs the stage's layers on x; keeps what backward needs when `keep`, else frees intermediates. */
  function forward(c: number, x: Tensor, keep: boolean, poison: boolean, ws?: Tensor[][]): { y: Tensor; saved: Tensor[][] | null; owned: Tensor[] } {
    const saved: Tensor[][] = [];
    const owned: Tensor[] = [];
    let h = x;
    for (const [i, l] of chunkLayers[c].entries()) {
      const r = l.impl.forward(ws ? ws[i] : l.weights, h);
      if (keep) saved.push(r.saved);
      owned.push(...r.saved);
      if (h !== x) owned.push(h);
      h = r.y;
    }
    if (poison) {
      const p = tf.mul(h, NaN);
      owned.push(h);
      h = p;
    }
    if (!keep) {
      for (const t of owned) if (t !== x && t !== h) t.dispose();
      return { y: h, saved: null, owned: [] };
    }
    return { y: h, saved, owned };
  }

  /**
   * Input loading ahead of use, as a data loader does: the first stage makes the next micro-batch's inputs while it
   * would otherwise wait (for a gradient, or for the next step), so that making them never delays a forward.
   */
  const inputOrder = ops.filter((o) => o.op === 'F' && isFirst(o.chunk ?? 0)).map((o) => o.microbatch);
  /** Inputs made ahead, by step · M + micro-batch. */
  const prefetched = new Map<number, Tensor>();
  /** Inputs made (ahead or when needed) for the current and the next step, by step · M + micro-batch. */
  const made = new Set<number>();
  const inputKey = (step: number, m: number) => step * M + m;
  let finalStep = false;
  /** At a step's start: forgets earlier steps' inputs. */
  function inputsFor(step: number, last: boolean): void {
    finalStep = last;
    for (const k of made) if (k < inputKey(step, 0)) made.delete(k);
  }
  /** Makes the next inputs this step will need, or, all made, the next step's first. */
  function prefetchInput(step: number): void {
    const todo = inputOrder.find((m) => !made.has(inputKey(step, m)));
    if (todo === undefined && (finalStep || !inputOrder.length)) return;
    const [s, m] = todo !== undefined ? [step, todo] : [step + 1, inputOrder[0]];
    if (made.has(inputKey(s, m))) return;
    made.add(inputKey(s, m));
    prefetched.set(inputKey(s, m), makeData('x', s, m));
  }

  /** Micro-batch m's inputs (first stage) or targets (last stage), generated where they are needed. */
  function dataTensor(part: 'x' | 'y', step: number, m: number): Tensor {
    if (part === 'y') return makeData(part, step, m);
    const k = inputKey(step, m);
    const ready = prefetched.get(k);
    prefetched.delete(k);
    made.add(k);
    return ready ?? makeData(part, step, m);
  }
  function makeData(part: 'x' | 'y', step: number, m: number): Tensor {
    const first = m * mb + replica * mbr;
    const s = makeSamples(model, seed, step, first, first + mbr, part);
    return part === 'x' ? tf.tensor(s.x!, [mbr, ...model.inputShape], model.inputDtype) : tf.tensor(s.y!, [mbr, ...model.targetShape], model.targetDtype);
  }

  /** PPRS: every weight plus γ·X, X standard normal drawn from (seed, step, micro-batch, weight): the same on every replica. */
  function perturbedWeights(step: number, m: number, c: number): Tensor[][] {
    return chunkLayers[c].map((l) =>
      l.weights.map((w, j) => {
        const g = normals(keyed(seed, 'pprs', step, m, l.spec.name, j));
        const v = new Float32Array(w.size);
        for (let i = 0; i < v.length; i++) v[i] = g() * optCfg.smoothing;
        return tf.tidy(() => tf.add(w, tf.tensor(v, w.shape)));
      }),
    );
  }

  /**
   * A one-sample forward after each update. Backends such as wasm (XNNPACK) re-pack a weight the first time
   * it is used after a change; doing it here, where all stages work at once, keeps it out of the pipeline fill.
   */
  function prepareWeights(): void {
    for (const ls of chunkLayers) {
      if (!ls.length) continue;
      tf.tidy(() => {
        let h: Tensor = tf.zeros([1, ...ls[0].spec.inputShape], ls[0].spec.inputDtype);
        for (const l of ls) h = l.impl.forward(l.weights, h).y;
      });
    }
  }

  /** All of `ts` in one float32 buffer, in order (read back asynchronously where the backend runs asynchronously). */
  async function flatten(ts: Tensor[]): Promise<Float32Array> {
    const out = new Float32Array(ts.reduce((n, t) => n + t.size, 0));
    let o = 0;
    for (const t of ts) {
      out.set((syncOutputs ? await t.data() : t.dataSync()) as Float32Array, o);
      o += t.size;
    }
    return out;
  }

  /** Tensors shaped like allWeights[first …] from `buf`. */
  function unflatten(buf: Float32Array, first: number, count: number): Tensor[] {
    let o = 0;
    return allWeights.slice(first, first + count).map((w) => {
      const t = tf.tensor(buf.subarray(o, o + w.size), w.shape, 'float32');
      o += w.size;
      return t;
    });
  }

  const reduceHooks = (step: number): ReduceHooks => ({
    now: () => rec.now(),
    hop: (e) => rec.op('ALLREDUCE', step, e.startUs, e.endUs, { peer: e.peer, bytes: e.bytes }, e.chunk >= 0 ? `${e.phase} chunk ${e.chunk}` : e.phase),
    codec: (kind, s0, s1, values) => rec.op(kind, step, s0, s1, { bytes: 4 * values }),
  });

  /** Starts the all-reduce of `buf` among the stage's replicas; the promise is marked handled so a failure surfaces where it is awaited. */
  function startReduce(step: number, bucket: string, buf: Float32Array): Promise<void> {
    const p = (async () => {
      current = { op: `ALLREDUCE ${bucket}`, step };
      await maybeFault({ op: 'ALLREDUCE' }, step);
      await allReduce(buf, replica, R, { algo, compression, tag: `${step}/${bucket}`, link: reduceInbox, hooks: reduceHooks(step) });
    })();
    p.catch(() => undefined);
    return p;
  }

  /** Sync mode ps: push the gradients to the stage's server, wait for the updated weights, load them. */
  async function pushPull(step: number, grads: Tensor[]): Promise<void> {
    current = { op: 'ALLREDUCE push', step };
    await maybeFault({ op: 'ALLREDUCE' }, step);
    const p0 = rec.now();
    const buf = await flatten(grads);
    const c0 = rec.now();
    const packed = compress(buf, compression);
    if (compression !== 'none') rec.op('COMPRESS', step, c0, rec.now(), { bytes: 4 * buf.length });
    const arrived = new Promise<FromServer>((resolve) => pulls.set(step, resolve));
    serverPort!.postMessage({ type: 'push', step, replica, packed } satisfies ToServer, [packed.data.buffer as ArrayBuffer]);
    const p1 = rec.now();
    rec.op('ALLREDUCE', step, p0, p1, { peer: -1, bytes: wireBytes(buf.length, compression) }, 'push');
    current = { op: 'ALLREDUCE pull', step };
    const w = await arrived;
    const p2 = rec.now();
    rec.op('ALLREDUCE', step, p1, p2, { peer: -1, bytes: w.data.byteLength }, 'pull');
    current = { op: 'OPT', step };
    const o0 = rec.now();
    const fresh = unflatten(w.data, 0, allWeights.length);
    allWeights.forEach((v, i) => v.assign(fresh[i]));
    tf.dispose(fresh);
    prepareWeights();
    if (syncOutputs && allWeights.length) await gpuDone(allWeights[allWeights.length - 1]);
    rec.op('OPT', step, o0, rec.now());
  }

  /** OPT: the update with `grads` (null: no update this step, Pipe-SGD's first), then the weight re-pack. */
  async function update(step: number, grads: Tensor[] | null): Promise<void> {
    current = { op: 'OPT', step };
    await maybeFault({ op: 'OPT' }, step);
    const o0 = rec.now();
    if (grads) {
      optimizer.apply(grads);
      tf.dispose(grads);
      prepareWeights();
      if (syncOutputs && allWeights.length) await gpuDone(allWeights[allWeights.length - 1]);
    }
    rec.op('OPT', step, o0, rec.now());
  }

  /** Pipe-SGD: the all-reduce of the previous step's gradients, running while this step computes. */
  let stale: { buf: Float32Array; done: Promise<void> } | null = null;

  async function runStep(step: number, last: boolean): Promise<number | null> {
    inputsFor(step, last);
    const stash = new Map<string, Stash>();
    const grads: (Tensor | null)[] = allWeights.map(() => null);
    let loss = 0;
    /** Layer-wise sync: each layer's all-reduce, started when the step's last B finished that layer. */
    const buckets: { first: number; count: number; buf: Float32Array; done: Promise<void> }[] = [];
    const onLayerDone =
      sync === 'layerwise' && R > 1
        ? async (layer: string, first: number, count: number) => {
            const buf = await flatten(grads.slice(first, first + count) as Tensor[]);
            buckets.push({ first, count, buf, done: startReduce(step, layer, buf) });
          }
        : undefined;
    for (let i = 0; i < ops.length; i++) {
      await runOp(ops[i], step, stash, grads, (l) => (loss += l), i === lastGradOp ? onLayerDone : undefined);
      if (stale || buckets.length) await yieldToEvents();
    }
    const full = grads.map((g, i) => g ?? tf.zerosLike(allWeights[i]));
    if (sync === 'ps') {
      await pushPull(step, full);
      tf.dispose(full);
    } else if (sync === 'pipelined') {
      const buf = await flatten(full);
      tf.dispose(full);
      const prev = stale;
      stale = { buf, done: startReduce(step, 'all', buf) };
      if (prev) await prev.done;
      await update(step, prev ? unflatten(prev.buf, 0, allWeights.length) : null);
    } else if (buckets.length) {
      await Promise.all(buckets.map((b) => b.done));
      for (const b of buckets) {
        const reduced = unflatten(b.buf, b.first, b.count);
        for (let j = 0; j < b.count; j++) {
          full[b.first + j].dispose();
          full[b.first + j] = reduced[j];
        }
      }
      await update(step, full);
    } else if (R > 1) {
      const buf = await flatten(full);
      tf.dispose(full);
      await startReduce(step, 'all', buf);
      await update(step, unflatten(buf, 0, allWeights.length));
    } else await update(step, full);
    memory(rec.now());
    return hasLast ? loss : null;
  }

  async function runOp(
    o: ScheduledOp,
    step: number,
    stash: Map<string, Stash>,
    grads: (Tensor | null)[],
    addLoss: (l: number) => void,
    onLayerDone?: (layer: string, firstWeight: number, count: number) => Promise<void>,
  ): Promise<void> {
    const m = o.microbatch;
    const c = o.chunk ?? 0;
    const key = `${c}/${m}`;
    const ls = chunkLayers[c];
    const first = isFirst(c);
    const last = isLast(c);
    const what = (op: string) => `${op} micro-batch ${m}${init.chunks.length > 1 ? ` chunk ${c}` : ''}`;
    /** Adds a layer's weight gradients into the step's sums. */
    const accumulate = (w: number, dw: Tensor[]) =>
      dw.forEach((d, j) => {
        const prev = grads[w + j];
        if (prev) {
          grads[w + j] = tf.add(prev, d);
          prev.dispose();
          d.dispose();
        } else grads[w + j] = d;
      });
    const release = (entry: Stash) => {
      for (const t of entry.owned) t.dispose();
      entry.saved?.flat().forEach((t) => t.dispose());
      entry.input.dispose();
      if (entry.perturbed) tf.dispose(entry.perturbed.flat());
      if (entry.pending) for (const ts of entry.pending) if (ts) tf.dispose(ts);
      stash.delete(key);
    };
    if (o.op === 'F') {
      const x = first ? dataTensor('x', step, m) : await recv('act', step, m, c);
      current = { op: what('F'), step };
      await maybeFault(o, step);
      const t0 = rec.now();
      const keep = !recomputes(plan.recompute, m, M);
      const perturbed = optCfg.kind === 'pprs' ? perturbedWeights(step, m, c) : undefined;
      const { y, saved, owned } = forward(c, x, keep, injected(o, step, 'output'), perturbed);
      const entry: Stash = { input: x, saved, owned, perturbed };
      if (last) {
        const target = dataTensor('y', step, m);
        const r = lossAndGrad(tf, model.loss, y, target, denom);
        target.dispose();
        addLoss((await r.loss.data())[0]);
        r.loss.dispose();
        entry.dy = r.dy;
        if (keep) entry.owned.push(y);
        else y.dispose();
      } else if (syncOutputs) await gpuDone(y);
      const t1 = rec.now();
      rec.op('F', step, t0, t1, { microbatch: m, ...chunkArg(c) });
      memory(t1);
      stash.set(key, entry);
      if (!last) {
        await send('act', y, step, m, c);
        if (!keep) y.dispose();
        else entry.owned.push(y);
      }
      return;
    }
    const entry = stash.get(key);
    if (!entry) throw new Error(`internal: ${o.op}${m} on stage ${stage} before its forward`);
    if (o.op === 'R') {
      current = { op: what('R'), step };
      await maybeFault(o, step);
      const t0 = rec.now();
      const r = forward(c, entry.input, true, false, entry.perturbed);
      entry.saved = r.saved;
      entry.owned.push(...r.owned, r.y);
      if (syncOutputs) await gpuDone(r.y);
      const t1 = rec.now();
      rec.op('R', step, t0, t1, { microbatch: m, ...chunkArg(c) });
      memory(t1);
      return;
    }
    if (o.op === 'B') {
      let g = last ? entry.dy! : await recv('grad', step, m, c);
      current = { op: what('B'), step };
      await maybeFault(o, step);
      const t0 = rec.now();
      if (!entry.saved) throw new Error(`internal: B${m} on stage ${stage} has no saved activations (recompute missing)`);
      let w = weightEnd[c];
      let dxStage: Tensor | null = null;
      // Split backward (zb-h1): B computes input gradients only and keeps, per layer, what its W needs.
      if (splitW) entry.pending = ls.map(() => null);
      for (let i = ls.length - 1; i >= 0; i--) {
        const l = ls[i];
        w -= l.weights.length;
        const ws = entry.perturbed ? entry.perturbed[i] : l.weights;
        // The first virtual stage needs no gradient for the data; other stages send theirs upstream.
        const wantDx = i > 0 || !first;
        let r: { dx: Tensor | null; dw: Tensor[] };
        if (splitW && l.weights.length) {
          const b = splits[c][i].input(ws, entry.saved[i], g, wantDx);
          entry.pending![i] = b.pending;
          r = { dx: b.dx, dw: [] };
          if (!b.pending.includes(g)) g.dispose();
        } else {
          r = l.impl.backward(ws, entry.saved[i], g, { dx: wantDx, dw: !splitW && l.weights.length > 0 });
          g.dispose();
        }
        accumulate(w, r.dw);
        if (onLayerDone && !splitW && l.weights.length) {
          await onLayerDone(l.spec.name, w, l.weights.length);
          await yieldToEvents(); // let the all-reduce hops that arrived meanwhile run
        }
        if (!r.dx) break;
        g = r.dx;
        if (i === 0) dxStage = r.dx;
      }
      // The first stage computes no dx: its B ends with its last weight gradient (on webgpu, with the queue's work done).
      if (syncOutputs) await gpuDone(dxStage ?? grads[weightBase[c]] ?? grads.find((x) => x) ?? null);
      const t1 = rec.now();
      rec.op('B', step, t0, t1, { microbatch: m, ...chunkArg(c) });
      if (!splitW) release(entry);
      memory(rec.now());
      if (dxStage) {
        await send('grad', dxStage, step, m, c);
        dxStage.dispose();
      }
      return;
    }
    if (o.op === 'W') {
      current = { op: what('W'), step };
      await maybeFault(o, step);
      if (!entry.pending || !entry.saved) throw new Error(`internal: W${m} on stage ${stage} before its B`);
      const t0 = rec.now();
      let w = weightEnd[c];
      let lastGrad: Tensor | null = null;
      for (let i = ls.length - 1; i >= 0; i--) {
        const l = ls[i];
        w -= l.weights.length;
        const kept = entry.pending[i];
        if (!l.weights.length || !kept) continue;
        accumulate(w, splits[c][i].weight(entry.perturbed ? entry.perturbed[i] : l.weights, entry.saved[i], kept));
        lastGrad = grads[w];
        if (onLayerDone) {
          await onLayerDone(l.spec.name, w, l.weights.length);
          await yieldToEvents();
        }
      }
      if (syncOutputs) await gpuDone(lastGrad);
      const t1 = rec.now();
      rec.op('W', step, t0, t1, { microbatch: m, ...chunkArg(c) });
      release(entry);
      memory(rec.now());
      return;
    }
    throw new Error(`internal: op ${o.op} is not supported by this runtime`);
  }

  prepareWeights();
  const nowMs = () => performance.now();
  const bytesOf = (ts: Tensor[]) => ts.reduce((n, t) => n + t.size * 4, 0); // float32 and int32 alike

  /**
   * Inside the pipeline a layer's weights are cold: other layers and micro-batches ran in between. Timing a layer
   * three times back to back keeps them in cache and under-predicts small micro-batches by 10–24%, so each timed
   * op starts after writing through a buffer larger than the last-level cache.
   */
  let evictBuffer: Float64Array | null = null;
  function evictCaches(): void {
    if (syncOutputs) return; // a GPU's caches are not the CPU's
    evictBuffer ??= new Float64Array(6 * 1024 * 1024); // 48 MiB
    evictBuffer.fill(evictBuffer[1] + 1);
  }

  /**
   * The probe's inputs and gradients: one value throughout. The backend draws random numbers one by one in JavaScript
   * and tiles element by element (an LM head's [8, 64, 16384] gradient took ~0.3 s either way, ten times the op it
   * feeds), while a dense kernel's time does not depend on the values it sees (0.5: no zeros, no denormals).
   */
  const probeValues = (shape: number[]): Tensor => tf.fill(shape, 0.5);

  /** Timings per layer and size in the cost probe (their median is kept): at most PROBE_RUNS, fewer for slow sizes. */
  const PROBE_RUNS = 5;
  /**
   * Time spent on one layer at one size before the probe moves on: small, noisy ops get up to PROBE_RUNS timings, ops
   * of PROBE_SIZE_MS or more one (their run-to-run spread is a few per cent, and the run's own ops set the level at
   * its size). This keeps the probe a fraction of the run (demo: 42 s after 19 s of steps with 5 timings of every
   * layer at every size; see the README).
   */
  const PROBE_SIZE_MS = 150;
  /**
   * The cost probe the simulator calibrates from: each layer's forward and backward (dx as the runtime asks for it,
   * and dW) at each size, the median of PROBE_RUNS after a warm-up; and the bytes a forward keeps for its backward.
   * Layers in `skip` are timed by another worker (their shape's twin there).
   */
  async function probe(sizes: number[], skip: ReadonlySet<string>): Promise<LayerCost[]> {
    const out: LayerCost[] = [];
    /** Layers of one shape cost the same (calibration pools them): each is timed once, its twins copy the points. */
    const timed = new Map<string, LayerCost>();
    for (const [c, ls] of chunkLayers.entries())
    for (const [i, l] of ls.entries()) {
      const spec = l.spec;
      if (skip.has(spec.name)) continue;
      const wantDx = i > 0 || !isFirst(c);
      const shape = probeShapeKey(spec, !wantDx);
      const twin = timed.get(shape);
      if (twin) {
        out.push({ ...twin, layer: spec.name, points: twin.points.map((p) => ({ ...p })) });
        continue;
      }
      let savedPerSample = 0;
      let pendingPerSample = 0;
      /** Forward, backward (dx and dW), and the split backward's two halves: B (dx, keeping what W needs) and W (dW). */
      const once = async (size: number): Promise<[number, number, number, number]> => {
        const x = spec.inputDtype === 'int32' ? tf.zeros([size, ...spec.inputShape], 'int32') : probeValues([size, ...spec.inputShape]);
        evictCaches();
        const t0 = nowMs();
        const f = l.impl.forward(l.weights, x);
        if (syncOutputs) await gpuDone(f.y);
        const t1 = nowMs();
        const dy = probeValues(f.y.shape);
        if (syncOutputs) await gpuDone(dy);
        evictCaches();
        const t2 = nowMs();
        const b = l.impl.backward(l.weights, f.saved, dy, { dx: wantDx, dw: l.weights.length > 0 });
        if (syncOutputs) await gpuDone(b.dx ?? b.dw[0] ?? dy);
        const t3 = nowMs();
        tf.dispose([...(b.dx ? [b.dx] : []), ...b.dw]);
        let dxMs = t3 - t2;
        let dwMs = 0;
        if (l.weights.length) {
          const split = splits[c][i];
          evictCaches();
          const t4 = nowMs();
          const bx = split.input(l.weights, f.saved, dy, wantDx);
          if (syncOutputs) await gpuDone(bx.dx ?? bx.pending[0]);
          const t5 = nowMs();
          evictCaches();
          const t6 = nowMs();
          pendingPerSample = Math.max(pendingPerSample, bytesOf(bx.pending) / size);
          const dw = split.weight(l.weights, f.saved, bx.pending);
          if (syncOutputs) await gpuDone(dw[0]);
          const t7 = nowMs();
          tf.dispose([...(bx.dx ? [bx.dx] : []), ...bx.pending.filter((t) => t !== dy), ...dw]);
          dxMs = t5 - t4;
          dwMs = t7 - t6;
        }
        savedPerSample = Math.max(savedPerSample, bytesOf(f.saved) / size);
        tf.dispose([x, f.y, ...f.saved, dy]);
        return [t1 - t0, t3 - t2, dxMs, dwMs];
      };
      await once(sizes[0]);
      const points: LayerCost['points'] = [];
      for (const size of sizes) {
        const runs: [number, number, number, number][] = [];
        const began = nowMs();
        while (runs.length < PROBE_RUNS) {
          runs.push(await once(size));
          const spent = nowMs() - began;
          if (spent >= PROBE_SIZE_MS) break;
        }
        // The typical time, not the best: the pipeline runs ops as they typically go, and small memory-bound ones
        // (a weight gradient of 8 samples writes as much as one of 128) vary most (min-of-3 under-predicted the mlp's
        // 8-sample micro-batches by 9–17%, the median by 5–6%).
        const typical = (k: number) => median(runs.map((r) => r[k]));
        points.push({ size, forwardMs: typical(0), backwardMs: typical(1), inputGradMs: typical(2), weightGradMs: typical(3) });
      }
      const cost = { layer: spec.name, stage, points, savedBytesPerSample: savedPerSample, pendingBytesPerSample: pendingPerSample, paramBytes: 4 * spec.params };
      timed.set(shape, cost);
      out.push(cost);
    }
    if (hasLast) await probeLoss(sizes, out);
    return out;
  }

  /**
   * The loss inside the last stage's F, timed as a run computes it (its targets made, the loss and its gradient, the
   * loss read back) at each size, onto the model's last layer's points: the run alone cannot tell it from the layers.
   */
  async function probeLoss(sizes: number[], out: LayerCost[]): Promise<void> {
    const lastChunk = chunkLayers.findIndex((_, c) => isLast(c));
    const spec = chunkLayers[lastChunk][chunkLayers[lastChunk].length - 1].spec;
    const cost = out.find((x) => x.layer === spec.name);
    if (!cost) return;
    const once = async (size: number): Promise<number> => {
      const y = probeValues([size, ...spec.outputShape]);
      evictCaches();
      const t0 = nowMs();
      const s = makeSamples(model, seed, 0, 0, size, 'y');
      const target = tf.tensor(s.y!, [size, ...model.targetShape], model.targetDtype);
      const r = lossAndGrad(tf, model.loss, y, target, denom);
      await r.loss.data();
      if (syncOutputs) await gpuDone(r.dy);
      const t1 = nowMs();
      tf.dispose([y, target, r.loss, r.dy]);
      return t1 - t0;
    };
    await once(sizes[0]);
    for (const p of cost.points) {
      const runs: number[] = [];
      const began = nowMs();
      while (runs.length < PROBE_RUNS && !(runs.length >= 2 && nowMs() - began >= PROBE_SIZE_MS)) runs.push(await once(p.size));
      p.lossMs = median(runs);
    }
  }

  /** Float32 matmul rate of this worker (256×1024 by 1024×1024, best of three), FLOP/s. */
  async function peakFlops(): Promise<number> {
    if (syncOutputs) return gpuPeakFlops();
    const a = tf.randomNormal([256, 1024]);
    const b = tf.randomNormal([1024, 1024]);
    let best = Infinity;
    for (let r = 0; r < 4; r++) {
      const t0 = nowMs();
      const y = tf.matMul(a, b);
      y.dataSync();
      best = r > 0 ? Math.min(best, nowMs() - t0) : best;
      y.dispose();
    }
    tf.dispose([a, b]);
    return (2 * 256 * 1024 * 1024) / (best / 1000);
  }

  /**
   * On a GPU: n×n by n×n matmuls, 8 queued back to back and timed to the GPU's completion (best of three), n doubled
   * from 256 until they take 50 ms or n is 4096: one small matmul measures launch and readback, not the GPU.
   */
  async function gpuPeakFlops(): Promise<number> {
    const QUEUED = 8;
    let rate = 0;
    for (let n = 256; n <= 4096; n *= 2) {
      const a = tf.randomNormal([n, n]);
      const b = tf.randomNormal([n, n]);
      await gpuDone(b);
      let best = Infinity;
      for (let r = 0; r < 4; r++) {
        const t0 = nowMs();
        const ys = Array.from({ length: QUEUED }, () => tf.matMul(a, b));
        await gpuDone(ys[QUEUED - 1]);
        best = r > 0 ? Math.min(best, nowMs() - t0) : best;
        tf.dispose(ys);
      }
      tf.dispose([a, b]);
      rate = Math.max(rate, (QUEUED * 2 * n ** 3) / (best / 1000));
      if (best >= 50) break;
    }
    return rate;
  }

  post({ type: 'ready', backend: tf.getBackend(), tfjs: tf.version_core, ...(gpu ? { gpu } : {}) });

  let queue = Promise.resolve();
  let lastShipped = performance.now();
  parentPort!.on('message', (msg: ToStage) => {
    if (msg.type === 'flush') {
      post({ type: 'events', stage, replica, events: rec.drain(), op: current.op, step: current.step });
      return;
    }
    queue = queue.then(async () => {
      try {
        if (msg.type === 'step') {
          current = { op: 'step', step: msg.step };
          const loss = await runStep(msg.step, msg.last);
          const mem = tf.memory();
          // Events travel at most once a second: sending them every step costs short steps several percent.
          const ship = msg.last || performance.now() - lastShipped >= 1000;
          if (ship) lastShipped = performance.now();
          // Inputs made ahead for the next step are no leak: how many there are depends on timing.
          post({ type: 'step-done', stage, replica, step: msg.step, loss, events: ship ? rec.drain() : [], tensors: mem.numTensors - prefetched.size, bytes: mem.numBytes });
          prefetchInput(msg.step); // the next step's first inputs, while the other stages finish this one
        } else if (msg.type === 'get-weights') {
          const weights: Record<string, Record<string, { shape: number[]; values: Float32Array }>> = {};
          for (const l of replica === 0 ? layers : []) {
            weights[l.spec.name] = {};
            for (let i = 0; i < l.weights.length; i++)
              weights[l.spec.name][l.spec.weights[i].name] = { shape: l.weights[i].shape, values: Float32Array.from(await l.weights[i].data()) };
          }
          post({ type: 'weights', weights });
        } else if (msg.type === 'probe') {
          current = { op: 'probe', step: null };
          // One replica probes: the others would slow it down (and their layers cost the same).
          post({ type: 'costs', stage, replica, costs: replica === 0 ? await probe(msg.sizes, new Set(msg.skip ?? [])) : [] });
        } else if (msg.type === 'peak') {
          current = { op: 'peak', step: null };
          post({ type: 'peak', flops: await peakFlops() });
        } else if (msg.type === 'stop') {
          for (const port of Object.values(links)) port.close();
          for (const p of peerPorts) p?.close();
          serverPort?.close();
          parentPort!.close();
        }
      } catch (e) {
        fail(e);
      }
    });
  });
}

main().catch((e) => post({ type: 'error', stage: init.stage, replica: init.replica, op: 'init', step: null, message: e instanceof Error ? e.message : String(e), events: [] }));
