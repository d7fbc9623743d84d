// A CPU-only PyTorch profiler trace (gloo, no GPU): its top-level CPU ops stand in for kernels, c10d/gloo calls for NCCL kernels.
import { HTA_COMM, HTA_COMPUTE, OP } from './timeline';
import { collectiveName, dtypeBytes } from './kineto';

/*
 * Rules (what a reader of a CPU-timed import needs; torch 2.13 with gloo, as test/fixtures/torch-pp holds):
 * - Used only when a rank file has no GPU activity at all (no kernel, memcpy, memset): then the rank's "device" work is
 *   its CPU work, and every op is timed by CPU ranges (the import says so in one line).
 * - Compute: the top-level `cpu_op` events of each thread (not inside another cpu_op of the same thread; user
 *   annotations and python_function ranges do not nest them), except communication calls (`c10d::*`) and ops that only
 *   make a view of a tensor (detach_, view, t, slice, tensor_split …: VIEW_OPS; on a GPU they launch no kernel, and
 *   torch.distributed.pipelining's detach_ of the input grads would otherwise be a run of its own between a backward
 *   and its send). Each is its own
 *   launch, on its own thread. One is backward work when it is the autograd engine's (`autograd::engine::evaluate_function: …`):
 *   on CPU the engine runs backward on the calling thread, so the thread does not tell F from B as it does for GPU launches.
 * - Communication: each `c10d::<op>` cpu_op (send, recv_, allreduce_, broadcast_ …: the call that posts the work) pairs
 *   with the next unpaired `gloo:<op>` user_annotation of the same op (gloo records one per work, from when it starts
 *   to when it completes: for a recv when the data is there or the caller waits, whichever is later). The op spans
 *   from the call's start to the later of the call's end and its work's end; a send spans its call alone, because gloo
 *   completes a send's work only when the sender waits for it, which torch.distributed.pipelining does at the end of
 *   the step, long after the peer received it. Label: the collective (Send, Recv, AllReduce …); bytes: the work's
 *   Input Dims × Input type (record_shapes), else the call's; peer: the call's third concrete input (send dst / recv
 *   src, a rank of the call's process group; record_shapes=True writes it), else -1.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The device table a rank file yields (KinetoRank.gpu): GPU activity, or these CPU ranges. */
export interface DeviceColumns {
  length: number;
  kind: Uint8Array;
  start: Float64Array;
  dur: Float64Array;
  launch: Float64Array;
  label: Int32Array;
  bytes: Float64Array;
  launchTid: Float64Array;
  /** How HTA reads each event (kineto.ts); CPU ranges: computation, or communication for a c10d call. */
  hta: Uint8Array;
  group: Int32Array;
  /** The peer a point-to-point op names (a rank of its process group), -1 when unknown. */
  peer: Int32Array;
  /** 1 when the autograd engine ran or launched it (backward work). */
  backward: Uint8Array;
}

/** `c10d::allreduce_` / `gloo:all_reduce` → "allreduce"; null for other names. */
function commKey(name: string): string | null {
  const m = /^(?:c10d::|gloo:)(\w+)$/.exec(name);
  return m ? m[1].toLowerCase().replace(/[^a-z]/g, '') : null;
}

/** Elements × dtype size from record_shapes args (Input Dims, Input type); 0 when they are absent. */
function argBytes(a: Obj): number {
  const dims = a['Input Dims'];
  const types = a['Input type'];
  if (!Array.isArray(dims) || !Array.isArray(types)) return 0;
  let total = 0;
  dims.forEach((d, i) => {
    // A TensorList is a list of shapes; a tensor one shape.
    const shapes = Array.isArray(d) && d.length && Array.isArray(d[0]) ? d : [d];
    const size = typeof types[i] === 'string' ? dtypeBytes(types[i]) : 0;
    for (const s of shapes) if (Array.isArray(s) && s.length && s.every((x) => typeof x === 'number')) total += s.reduce((p: number, x: number) => p * x, 1) * size;
  });
  return total;
}

/** Ops that only alias or view a tensor: no compute (on a GPU, no kernel). */
const VIEW_OPS = new Set(
  ['detach', 'detach_', 'alias', 'view', '_unsafe_view', 'reshape', 't', 'transpose', 'permute', 'as_strided', 'expand', 'expand_as', 'slice', 'select', 'narrow',
    'squeeze', 'unsqueeze', 'flatten', 'unflatten', 'split', 'tensor_split', 'chunk', 'unbind', 'broadcast_tensors', 'lift_fresh', 'resolve_conj', 'resolve_neg'].map((x) => `aten::${x}`),
);

interface CpuOp { ts: number; dur: number; tid: number; name: string; peer: number; bytes: number }
interface Work { ts: number; dur: number; bytes: number }

/** Collects one rank file's cpu_op events and gloo work annotations until it shows GPU activity (then it is not needed). */
export class CpuActivity {
  private ops: CpuOp[] = [];
  private works = new Map<string, Work[]>();
  private off = false;

  /** Stops collecting and frees what was kept: the file has GPU activity. */
  drop(): void {
    this.off = true;
    this.ops = [];
    this.works.clear();
  }

  /** A `cpu_op` X event with usable times. */
  addOp(e: Obj, name: string, ts: number, dur: number): void {
    if (this.off) return;
    const a = isObj(e.args) ? e.args : {};
    let peer = -1;
    if (commKey(name) === 'send' || commKey(name) === 'recv') {
      const ci = a['Concrete Inputs'];
      const v = Array.isArray(ci) ? Number(ci[2]) : NaN;
      if (Number.isInteger(v) && v >= 0) peer = v;
    }
    this.ops.push({ ts, dur, tid: typeof e.tid === 'number' ? e.tid : -1, name, peer, bytes: name.startsWith('c10d::') ? argBytes(a) : 0 });
  }

  /** A `gloo:<op>` user_annotation with usable times. */
  addWork(e: Obj, name: string, ts: number, dur: number): void {
    const key = commKey(name);
    if (this.off || !key) return;
    let list = this.works.get(key);
    if (!list) this.works.set(key, (list = []));
    list.push({ ts, dur, bytes: isObj(e.args) ? argBytes(e.args) : 0 });
  }

  /** The device table of the rules above; `labelOf` interns a collective name; null when no cpu_op was seen. */
  build(labelOf: (s: string) => number): DeviceColumns | null {
    if (this.off || !this.ops.length) return null;
    const byTid = new Map<number, CpuOp[]>();
    for (const o of this.ops) {
      let l = byTid.get(o.tid);
      if (!l) byTid.set(o.tid, (l = []));
      l.push(o);
    }
    const top: CpuOp[] = [];
    for (const list of byTid.values()) {
      list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
      let end = -Infinity;
      for (const o of list)
        if (o.ts >= end) {
          top.push(o);
          end = o.ts + o.dur;
        }
    }
    const kept = top.filter((o) => !VIEW_OPS.has(o.name)).sort((a, b) => a.ts - b.ts);
    const works = new Map([...this.works].map(([k, l]) => [k, l.slice().sort((a, b) => a.ts - b.ts)]));
    const used = new Map<string, number>();
    const n = kept.length;
    const c: DeviceColumns = {
      length: n, kind: new Uint8Array(n), start: new Float64Array(n), dur: new Float64Array(n), launch: new Float64Array(n), label: new Int32Array(n).fill(-1),
      bytes: new Float64Array(n), launchTid: new Float64Array(n), hta: new Uint8Array(n).fill(HTA_COMPUTE), group: new Int32Array(n).fill(-1), peer: new Int32Array(n).fill(-1), backward: new Uint8Array(n),
    };
    kept.forEach((o, i) => {
      c.start[i] = c.launch[i] = o.ts;
      c.dur[i] = o.dur;
      c.launchTid[i] = o.tid;
      const key = o.name.startsWith('c10d::') ? commKey(o.name) : null;
      if (key === null) {
        c.kind[i] = OP.KERNEL;
        c.backward[i] = o.name.startsWith('autograd::engine::evaluate_function') ? 1 : 0;
        return;
      }
      c.kind[i] = OP.COMM;
      c.hta[i] = HTA_COMM;
      c.label[i] = labelOf(collectiveName(key));
      c.peer[i] = o.peer;
      // Its work: the next unpaired gloo annotation of the same op that does not start before the call.
      const list = works.get(key) ?? [];
      let k = used.get(key) ?? 0;
      while (k < list.length && list[k].ts < o.ts) k++;
      const w = k < list.length ? list[k] : null;
      if (w) used.set(key, k + 1);
      c.bytes[i] = w && w.bytes > 0 ? w.bytes : o.bytes;
      if (w && key !== 'send') c.dur[i] = Math.max(o.ts + o.dur, w.ts + w.dur) - o.ts;
    });
    return c;
  }
}
