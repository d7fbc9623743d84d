// One pipeline stage in a worker thread: runs its schedule's ops each step, moving tensors over MessagePorts, tracing every op.
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type * as tfc from '@tensorflow/tfjs-core';
import type { FromStage, StageInit, ToStage, Transfer } from './protocol';
import type { LayerImpl, Tensor } from './layers/types';
import type { LayerSpec } from '../model/types';
import type { ScheduledOp } from '../schedule/types';
import type { LayerCost } from '../trace/timeline';
import { loadBackend, isAsyncBackend } from './backends';
import { Optimizer } from './optimizer';
import { Recorder, flowId } from '../trace/recorder';
import { makeSamples } from '../model/data';
import { initLayer } from '../model/init';
import { shapeSize } from '../model/types';
import { recomputes } from '../schedule/recompute';

const init = workerData.init as StageInit;
const prevPort = workerData.prev as MessagePort | null;
const nextPort = workerData.next as MessagePort | null;
const post = (m: FromStage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

/** Tensors arriving from neighbours, matched to the op that waits for them. */
class Inbox {
  private items = new Map<string, Transfer>();
  private waiters = new Map<string, (t: Transfer) => void>();
  put(t: Transfer): void {
    const k = `${t.kind}:${t.step}:${t.microbatch}`;
    const w = this.waiters.get(k);
    if (w) {
      this.waiters.delete(k);
      w(t);
    } else this.items.set(k, t);
  }
  take(kind: Transfer['kind'], step: number, microbatch: number): Promise<Transfer> {
    const k = `${kind}:${step}:${microbatch}`;
    const t = this.items.get(k);
    if (t) {
      this.items.delete(k);
      return Promise.resolve(t);
    }
    return new Promise((resolve) => this.waiters.set(k, resolve));
  }
}

interface StageLayer {
  spec: LayerSpec;
  impl: LayerImpl;
  weights: tfc.Variable[];
}

/** What a micro-batch leaves behind between its F and its B. */
interface Stash {
  input: Tensor;
  /** Per layer, what its backward needs; null after F when the micro-batch is recomputed. */
  saved: Tensor[][] | null;
  /** Every tensor to free after B (intermediates, outputs); disposal is idempotent. */
  owned: Tensor[];
  /** dL/dy of the last layer, on the last stage. */
  dy?: Tensor;
}

async function main(): Promise<void> {
  const { stage, stages, firstLayer, model, plan, ops, batch, seed, optimizer: optCfg, backend, fault } = init;
  const rec = new Recorder(init.trace, stage, stage, init.t0Ms);
  let current: { op: string; step: number | null } = { op: 'init', step: null };
  const fail = (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    post({ type: 'error', stage, op: current.op, step: current.step, message, events: rec.drain() });
  };

  let tf: typeof tfc;
  try {
    tf = await loadBackend(backend);
  } catch (e) {
    fail(e);
    return;
  }
  const { makeLayer } = await import('./layers/index');
  const { lossAndGrad } = await import('./layers/loss');
  const layers: StageLayer[] = model.layers.slice(firstLayer, firstLayer + plan.balance[stage]).map((spec) => ({
    spec,
    impl: makeLayer(tf, spec),
    weights: initLayer(model, spec, seed).map((v, i) => tf.variable(tf.tensor(v, spec.weights[i].shape), true, `${spec.name}/${spec.weights[i].name}`)),
  }));
  const allWeights = layers.flatMap((l) => l.weights);
  const optimizer = new Optimizer(tf, optCfg, allWeights);
  const isFirst = stage === 0;
  const isLast = stage === stages - 1;
  const M = plan.microbatches;
  const mb = batch / M;
  const positions = Math.max(1, shapeSize(model.targetShape));
  const denom = batch * positions;
  const syncOutputs = isAsyncBackend(backend);

  const inbox = new Inbox();
  prevPort?.on('message', (t: Transfer) => inbox.put(t));
  nextPort?.on('message', (t: Transfer) => inbox.put(t));

  const memory = (ts: number) => {
    if (rec.enabled) rec.counter('memory', ts, { bytes: tf.memory().numBytes });
  };

  const injected = (o: { op: string }, step: number, phase: 'start' | 'output'): boolean =>
    !!fault && fault.stage === stage && fault.step === step && fault.op === o.op && (phase === 'output') === (fault.kind === 'nan');

  async function maybeFault(o: { op: string }, step: number): Promise<void> {
    if (!injected(o, step, 'start')) return;
    if (fault!.kind === 'throw') throw new Error(`injected fault in ${o.op} on stage ${stage}`);
    if (fault!.kind === 'exit') process.exit(3);
    if (fault!.kind === 'hang') await new Promise(() => undefined);
  }

  async function send(kind: Transfer['kind'], t: Tensor, step: number, microbatch: number): Promise<void> {
    const port = kind === 'act' ? nextPort! : prevPort!;
    const peer = kind === 'act' ? stage + 1 : stage - 1;
    current = { op: `SEND ${kind} micro-batch ${microbatch}`, step };
    const s0 = rec.now();
    const raw = (syncOutputs ? await t.data() : t.dataSync()) as Float32Array;
    // Own the buffer before transferring it: some backends hand out their storage.
    const data = backend === 'cpu' || raw.byteLength !== raw.buffer.byteLength ? raw.slice() : raw;
    const msg: Transfer = { kind, step, microbatch, shape: t.shape, data, sentUs: s0 };
    const bytes = data.byteLength; // the buffer is detached once transferred
    port.postMessage(msg, [data.buffer as ArrayBuffer]);
    const s1 = rec.now();
    rec.op('SEND', step, s0, s1, { microbatch, peer, bytes }, kind);
    rec.flow('s', flowId(step, microbatch, kind, stage), s0, kind);
  }

  async function recv(kind: Transfer['kind'], step: number, microbatch: number): Promise<Tensor> {
    const peer = kind === 'act' ? stage - 1 : stage + 1;
    current = { op: `RECV ${kind} micro-batch ${microbatch}`, step };
    const r0 = rec.now();
    const t = await inbox.take(kind, step, microbatch);
    const x = tf.tensor(t.data, t.shape, 'float32');
    const r1 = rec.now();
    rec.op('RECV', step, r0, r1, { microbatch, peer, bytes: t.data.byteLength }, kind);
    rec.flow('f', flowId(step, microbatch, kind, peer), Math.min(r1, Math.max(r0, t.sentUs)), kind);
    return x;
  }

  /** Runs the stage's layers on x; keeps what backward needs when `keep`, else frees intermediates. */
  function forward(x: Tensor, keep: boolean, poison: boolean): { y: Tensor; saved: Tensor[][] | null; owned: Tensor[] } {
    const saved: Tensor[][] = [];
    const owned: Tensor[] = [];
    let h = x;
    for (const l of layers) {
      const r = l.impl.forward(l.weights, h);
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

  /** Micro-batch m's inputs (first stage) or targets (last stage), generated where they are needed. */
  function dataTensor(part: 'x' | 'y', step: number, m: number): Tensor {
    const s = makeSamples(model, seed, step, m * mb, (m + 1) * mb, part);
    return part === 'x' ? tf.tensor(s.x!, [mb, ...model.inputShape], model.inputDtype) : tf.tensor(s.y!, [mb, ...model.targetShape], model.targetDtype);
  }

  /**
   * A one-sample forward after each update. Backends such as wasm (XNNPACK) re-pack a weight the first time
   * it is used after a change; doing it here, where all stages work at once, keeps it out of the pipeline fill.
   */
  function prepareWeights(): void {
    if (!layers.length) return;
    tf.tidy(() => {
      let h: Tensor = tf.zeros([1, ...layers[0].spec.inputShape], layers[0].spec.inputDtype);
      for (const l of layers) h = l.impl.forward(l.weights, h).y;
    });
  }

  async function runStep(step: number): Promise<number | null> {
    const stash = new Map<number, Stash>();
    const grads: (Tensor | null)[] = allWeights.map(() => null);
    let loss = 0;
    for (const o of ops) await runOp(o, step, stash, grads, (l) => (loss += l));
    current = { op: 'OPT', step };
    await maybeFault({ op: 'OPT' }, step);
    const o0 = rec.now();
    optimizer.apply(grads.map((g, i) => g ?? tf.zerosLike(allWeights[i])));
    for (const g of grads) g?.dispose();
    prepareWeights();
    if (syncOutputs && allWeights.length) await allWeights[allWeights.length - 1].data();
    const o1 = rec.now();
    rec.op('OPT', step, o0, o1);
    memory(o1);
    return isLast ? loss : null;
  }

  async function runOp(o: ScheduledOp, step: number, stash: Map<number, Stash>, grads: (Tensor | null)[], addLoss: (l: number) => void): Promise<void> {
    const m = o.microbatch;
    if (o.op === 'F') {
      const x = isFirst ? dataTensor('x', step, m) : await recv('act', step, m);
      current = { op: `F micro-batch ${m}`, step };
      await maybeFault(o, step);
      const t0 = rec.now();
      const keep = !recomputes(plan.recompute, m, M);
      const { y, saved, owned } = forward(x, keep, injected(o, step, 'output'));
      const entry: Stash = { input: x, saved, owned };
      if (isLast) {
        const target = dataTensor('y', step, m);
        const r = lossAndGrad(tf, model.loss, y, target, denom);
        target.dispose();
        addLoss((await r.loss.data())[0]);
        r.loss.dispose();
        entry.dy = r.dy;
        if (keep) entry.owned.push(y);
        else y.dispose();
      } else if (syncOutputs) await y.data();
      const t1 = rec.now();
      rec.op('F', step, t0, t1, { microbatch: m });
      memory(t1);
      stash.set(m, entry);
      if (!isLast) {
        await send('act', y, step, m);
        if (!keep) y.dispose();
        else entry.owned.push(y);
      }
      return;
    }
    const entry = stash.get(m);
    if (!entry) throw new Error(`internal: ${o.op}${m} on stage ${stage} before its forward`);
    if (o.op === 'R') {
      current = { op: `R micro-batch ${m}`, step };
      await maybeFault(o, step);
      const t0 = rec.now();
      const r = forward(entry.input, true, false);
      entry.saved = r.saved;
      entry.owned.push(...r.owned, r.y);
      if (syncOutputs) await r.y.data();
      const t1 = rec.now();
      rec.op('R', step, t0, t1, { microbatch: m });
      memory(t1);
      return;
    }
    if (o.op === 'B') {
      let g = isLast ? entry.dy! : await recv('grad', step, m);
      current = { op: `B micro-batch ${m}`, step };
      await maybeFault(o, step);
      const t0 = rec.now();
      if (!entry.saved) throw new Error(`internal: B${m} on stage ${stage} has no saved activations (recompute missing)`);
      let w = allWeights.length;
      let dxStage: Tensor | null = null;
      for (let i = layers.length - 1; i >= 0; i--) {
        const l = layers[i];
        w -= l.weights.length;
        // The first stage needs no gradient for the data; other stages send theirs upstream.
        const r = l.impl.backward(l.weights, entry.saved[i], g, { dx: i > 0 || !isFirst, dw: l.weights.length > 0 });
        r.dw.forEach((d, j) => {
          const prev = grads[w + j];
          if (prev) {
            grads[w + j] = tf.add(prev, d);
            prev.dispose();
            d.dispose();
          } else grads[w + j] = d;
        });
        g.dispose();
        if (!r.dx) break;
        g = r.dx;
        if (i === 0) dxStage = r.dx;
      }
      if (syncOutputs && dxStage) await dxStage.data();
      const t1 = rec.now();
      rec.op('B', step, t0, t1, { microbatch: m });
      for (const t of entry.owned) t.dispose();
      entry.saved.flat().forEach((t) => t.dispose());
      entry.input.dispose();
      stash.delete(m);
      memory(rec.now());
      if (dxStage) {
        await send('grad', dxStage, step, m);
        dxStage.dispose();
      }
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
    evictBuffer ??= new Float64Array(6 * 1024 * 1024); // 48 MiB
    evictBuffer.fill(evictBuffer[1] + 1);
  }

  /**
   * The cost probe the simulator calibrates from: each layer's forward and backward (dx as the runtime asks for it,
   * and dW) at each size, best of three after a warm-up; and the bytes a forward keeps for its backward.
   */
  async function probe(sizes: number[]): Promise<LayerCost[]> {
    const out: LayerCost[] = [];
    for (const [i, l] of layers.entries()) {
      const spec = l.spec;
      const wantDx = i > 0 || !isFirst;
      let savedPerSample = 0;
      const once = async (size: number): Promise<[number, number]> => {
        const x = spec.inputDtype === 'int32' ? tf.zeros([size, ...spec.inputShape], 'int32') : tf.randomNormal([size, ...spec.inputShape]);
        evictCaches();
        const t0 = nowMs();
        const f = l.impl.forward(l.weights, x);
        if (syncOutputs) await f.y.data();
        const t1 = nowMs();
        const dy = tf.randomNormal(f.y.shape);
        if (syncOutputs) await dy.data();
        evictCaches();
        const t2 = nowMs();
        const b = l.impl.backward(l.weights, f.saved, dy, { dx: wantDx, dw: l.weights.length > 0 });
        if (syncOutputs) await (b.dx ?? b.dw[0] ?? dy).data();
        const t3 = nowMs();
        savedPerSample = Math.max(savedPerSample, bytesOf(f.saved) / size);
        tf.dispose([x, f.y, ...f.saved, dy, ...(b.dx ? [b.dx] : []), ...b.dw]);
        return [t1 - t0, t3 - t2];
      };
      await once(sizes[0]);
      const points: LayerCost['points'] = [];
      for (const size of sizes) {
        const runs = [await once(size), await once(size), await once(size)];
        points.push({ size, forwardMs: Math.min(...runs.map((r) => r[0])), backwardMs: Math.min(...runs.map((r) => r[1])) });
      }
      out.push({ layer: spec.name, stage, points, savedBytesPerSample: savedPerSample, paramBytes: 4 * spec.params });
    }
    return out;
  }

  /** Float32 matmul rate of this worker (256×1024 by 1024×1024, best of three), FLOP/s. */
  function peakFlops(): number {
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

  post({ type: 'ready', backend: tf.getBackend(), tfjs: tf.version_core });

  let queue = Promise.resolve();
  let lastShipped = performance.now();
  parentPort!.on('message', (msg: ToStage) => {
    if (msg.type === 'flush') {
      post({ type: 'events', stage, events: rec.drain() });
      return;
    }
    queue = queue.then(async () => {
      try {
        if (msg.type === 'step') {
          current = { op: 'step', step: msg.step };
          const loss = await runStep(msg.step);
          const mem = tf.memory();
          // Events travel at most once a second: sending them every step costs short steps several percent.
          const ship = msg.last || performance.now() - lastShipped >= 1000;
          if (ship) lastShipped = performance.now();
          post({ type: 'step-done', stage, step: msg.step, loss, events: ship ? rec.drain() : [], tensors: mem.numTensors, bytes: mem.numBytes });
        } else if (msg.type === 'get-weights') {
          const weights: Record<string, Record<string, { shape: number[]; values: Float32Array }>> = {};
          for (const l of layers) {
            weights[l.spec.name] = {};
            for (let i = 0; i < l.weights.length; i++)
              weights[l.spec.name][l.spec.weights[i].name] = { shape: l.weights[i].shape, values: Float32Array.from(await l.weights[i].data()) };
          }
          post({ type: 'weights', weights });
        } else if (msg.type === 'probe') {
          current = { op: 'probe', step: null };
          post({ type: 'costs', stage, costs: await probe(msg.sizes) });
        } else if (msg.type === 'peak') {
          current = { op: 'peak', step: null };
          post({ type: 'peak', flops: peakFlops() });
        } else if (msg.type === 'stop') {
          prevPort?.close();
          nextPort?.close();
          parentPort!.close();
        }
      } catch (e) {
        fail(e);
      }
    });
  });
}

main().catch((e) => post({ type: 'error', stage: init.stage, op: 'init', step: null, message: e instanceof Error ? e.message : String(e), events: [] }));
