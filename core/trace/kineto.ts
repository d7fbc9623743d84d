// PyTorch profiler (Kineto) traces → one Timeline: kernels per rank, NCCL collectives, ProfilerStep steps, `PP:` pipeline ops, one clock.
import type { OpKind } from '../schedule/types';
import type { Plan } from '../plan/types';
import type { StepRecord } from './schema';
import type { OpTable, RankInfo, Timeline } from './timeline';
import { HTA_COMM, HTA_COMPUTE, HTA_MEMORY, HTA_NO_STREAM, HTA_OTHER, HTA_UNCORRELATED, LANE_OF_KIND, OP, allocOpTable, finishOpTable, windowAt } from './timeline';
import { TraceError } from './import';
import type { Placed, RawOp } from './kineto-pipeline';
import { engineOps, periodSteps, pipelineLayout } from './kineto-pipeline';
import type { DeviceColumns } from './kineto-cpu';
import { CpuActivity } from './kineto-cpu';

/*
 * Decisions (the rules a reader of a Kineto import needs):
 * - One clock: a file's `ts` (µs) plus baseTimeNanoseconds/1000 when every file has it (Kineto's `ts` counts from a
 *   per-host origin that baseTimeNanoseconds places in Unix time, rounded to the second), shifted so the run starts at 0.
 * - Skew: collectives end together on every rank of a group (each waits for the last to arrive), so when every rank ran
 *   the same NCCL kernel sequence (same count and collective names, in start order), rank r's skew against the lowest
 *   rank is the median of the shortest half of the differences of their matched end times (robust to the pairs that
 *   are not really the same collective, as in a sampled trace). It is removed and reported (RankInfo.skewUs; a warning
 *   above 1 ms). Otherwise clocks are taken as recorded, with a warning.
 * - Kinds: NCCL kernels (ncclKernel_*, ncclDevKernel_*) → COMM, labelled with the collective (args "Collective name",
 *   else the kernel name) and bytes = max(In, Out msg nelems) × dtype size (nccl-tests' message size); other kernels →
 *   KERNEL; gpu_memcpy → MEMCPY, gpu_memset → MEMSET (bytes from args); cuda_sync with a stream → SYNC (HTA counts them as
 *   GPU time). Each keeps its launch time and launching thread (the autograd engine's for backward kernels). A kernel's step is the ProfilerStep#N whose CPU
 *   window holds its launch (cuda_runtime/cuda_driver event with the same correlation id), as HTA assigns iterations;
 *   without a launch, the step whose window holds its start.
 * - Steps: a pipeline's are one rank's iteration period (kineto-pipeline.ts). Otherwise ProfilerStep#N (CPU
 *   user_annotation), merged over ranks and widened to the GPU work launched in them (GPU runs behind the CPU). Without
 *   any, the whole trace is step 0, with a warning.
 * - Pipeline: torch.distributed.pipelining's `PP:<stage><op><micro-batch>` annotations become F, B (from B and I), W,
 *   SEND, RECV, ALLREDUCE (REDUCE_GRAD) and COMM (UNSHARD, RESHARD) ops. Their span is the GPU-side annotation of the
 *   same name only when no kernel was launched inside the CPU annotation (from any thread: a backward's kernels come
 *   from the autograd thread, and its GPU twin covers only the main thread's few); else the GPU time of those kernels
 *   (compute kernels for F, B, W; NCCL kernels for the rest), else the CPU annotation itself (in a CPU-only trace a
 *   communication action without a c10d call did not communicate: left out). A rank that runs several stages (interleaved, looped or V schedules)
 *   is one row: row = its smallest stage, chunk = floor(stage / pipeline ranks). Ranks on the same row are replicas.
 *   The plan is guessed: one unit per stage, micro-batches = largest index + 1, schedule zb-h1 when W ops exist,
 *   interleaved-1f1b with chunks, gpipe when every F of a stage precedes its first B in every step, else 1f1b.
 * - Without `PP:` annotations: the pipeline from the p2p process groups and each engine's markers or the p2p pattern
 *   (kineto-pipeline.ts); when the ranks form none (no p2p kernel, one rank, no group), each rank is a row (in rank
 *   order), `ops` is the kernel table itself, and one warning says why there is no pipeline.
 * - CPU-only traces (no GPU activity in a file, e.g. gloo on CPU): its top-level CPU ops stand in for kernels and its
 *   c10d/gloo calls for NCCL kernels (kineto-cpu.ts), so every rule above applies to CPU ranges; one line says so.
 * - Ranks: distributedInfo.rank. One file without it is rank 0 (a warning); several files none of which names its
 *   rank are a TraceError; a file without a rank among named ones, a repeated rank, a rank of another job (world_size or
 *   backend differ from most files', or a process group of the same name lists other ranks: each rank's pg_config lists
 *   only its own groups) and a rank sharing no time with the others are left out, with
 *   a line each. A file's problems (negative durations, overlapping steps, unknown `PP:` actions) are lines too.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}…` : s;
};
const fmtMs = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const FIX_PROFILE = 'profile with torch.profiler (ProfilerActivity.CPU and CUDA) and pass its exported trace files';

/** A growable typed column: push, then `done()` for a trimmed copy. */
class Grow<T extends Float64Array | Int32Array | Uint8Array> {
  n = 0;
  constructor(private a: T) {}
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new (this.a.constructor as new (n: number) => T)(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  done(): T {
    return this.a.slice(0, this.n) as T;
  }
}
const f64 = () => new Grow(new Float64Array(1024));
const i32 = () => new Grow(new Int32Array(1024));

// ------------------------------------------------------------------ names

/** Collective names by their letters, lower case: the longest key a name starts with wins ("reducescatter…" over "reduce"). */
const COLLECTIVES: Record<string, string> = {
  allreduce: 'AllReduce', allgather: 'AllGather', reducescatter: 'ReduceScatter', broadcast: 'Broadcast', reduce: 'Reduce',
  alltoall: 'AllToAll', sendrecv: 'SendRecv', send: 'Send', recv: 'Recv', gather: 'Gather', scatter: 'Scatter', barrier: 'Barrier',
};
const COLLECTIVE_KEYS = Object.keys(COLLECTIVES).sort((a, b) => b.length - a.length);

/** "allreduce", "_allgather_base", "all_to_allv", "AllReduce" → AllReduce, AllGather, AllToAll, AllReduce; else the name as given. */
export function collectiveName(raw: string): string {
  const key = raw.toLowerCase().replace(/[^a-z]/g, '');
  for (const k of COLLECTIVE_KEYS) if (key.startsWith(k)) return COLLECTIVES[k];
  return raw;
}

const NCCL_KERNEL = /^nccl\w*Kernel/;

/** HTA's reading of a GPU event, for the kernel table's `hta` column (the HTA_* flags and types of timeline.ts). */
const HTA_COMM_NAME = /^(?:nccl|hip|hccl)|ncclKernel/;
const HTA_MEMORY_NAME = /^(?:(?:hip)?Memcpy|(?:hip)?Memset|dma)/;
/** Names HTA never counts as computation: NCCL, memory, sync and launch names, and other accelerators' runtimes. */
const HTA_NOT_COMPUTE_NAME = /^(?:nccl|.*Memcpy|.*Memset|.*dma|.*Sync|Stream Wait Event|cuda.*LaunchKernel|runFunction|hip|job_exe|packet|pe_exe|cpum_exe_subgraph|hccl|collective_subgraph_execution)/;
/** HTA's kernel type of a GPU event's name: communication, memory, computation (the rest), or other. */
export function htaKernelType(name: string): number {
  // A trace repeats a few hundred kernel names thousands of times, and the `.*` alternatives rescan each name.
  let type = htaTypes.get(name);
  if (type === undefined) {
    type = HTA_COMM_NAME.test(name) ? HTA_COMM : HTA_MEMORY_NAME.test(name) ? HTA_MEMORY : HTA_NOT_COMPUTE_NAME.test(name) ? HTA_OTHER : HTA_COMPUTE;
    if (htaTypes.size >= HTA_TYPES_CACHED) htaTypes.clear();
    htaTypes.set(name, type);
  }
  return type;
}
const htaTypes = new Map<string, number>();
const HTA_TYPES_CACHED = 1 << 16;
/** The collective in an NCCL kernel's name: ncclKernel_AllReduce_RING_LL_Sum_float → AllReduce, ncclDevKernel_SendRecv → SendRecv. */
export function collectiveOfKernel(name: string): string {
  const m = /^nccl\w*?Kernel_([A-Za-z]+)/.exec(name);
  return m ? collectiveName(m[1]) : 'NCCL';
}

/** Bytes per element of the dtype names PyTorch writes in NCCL kernel args ("Float", "BFloat16", "Long", …). */
const DTYPE_BYTES: Record<string, number> = {
  float: 4, float32: 4, double: 8, float64: 8, half: 2, float16: 2, bfloat16: 2, long: 8, int64: 8, int: 4, int32: 4,
  short: 2, int16: 2, char: 1, int8: 1, byte: 1, uint8: 1, bool: 1, float8e4m3fn: 1, float8e5m2: 1, float8e4m3fnuz: 1,
  float8e5m2fnuz: 1, complexfloat: 8, complexdouble: 16, complexhalf: 4, uint16: 2, uint32: 4, uint64: 8,
};
export const dtypeBytes = (dtype: string): number => DTYPE_BYTES[dtype.toLowerCase().replace(/[^a-z0-9]/g, '')] ?? 0;

/** torch.distributed.pipelining actions, as `_Action.__repr__` writes them after "PP:". */
const PP_OPS = ['F', 'I', 'B', 'W', 'SEND_F', 'RECV_F', 'SEND_B', 'RECV_B', 'UNSHARD', 'RESHARD', 'REDUCE_GRAD'] as const;
type PPOp = (typeof PP_OPS)[number];
const PP_NAME = /^PP:(\d+)(SEND_F|RECV_F|SEND_B|RECV_B|UNSHARD|RESHARD|REDUCE_GRAD|F|I|B|W)(\d*)$/;
const PP_KIND: Record<PPOp, OpKind> = {
  F: 'F', I: 'B', B: 'B', W: 'W', SEND_F: 'SEND', SEND_B: 'SEND', RECV_F: 'RECV', RECV_B: 'RECV', UNSHARD: 'COMM', RESHARD: 'COMM', REDUCE_GRAD: 'ALLREDUCE',
};
/** The neighbouring stage a SEND or RECV talks to: activations go forward, gradients back. */
const PP_PEER: Partial<Record<PPOp, number>> = { SEND_F: 1, RECV_F: -1, SEND_B: -1, RECV_B: 1 };

const STEP_NAME = /^ProfilerStep\s*#\s*(\d+)$/;

// ------------------------------------------------------------------ one rank file

/** One `PP:` annotation: CPU (user_annotation) or GPU (gpu_user_annotation) side. */
export interface PPMark {
  name: string;
  stage: number;
  op: PPOp;
  microbatch: number;
  ts: number;
  dur: number;
}

/** A CPU range an engine writes around a forward, backward or optimizer step (not `PP:`), and the rule that named it. */
export interface EngineMarker {
  kind: 'F' | 'B' | 'OPT';
  /** Micro-batch from the name (GPipe's `Forward {i}`), else -1 (numbered in order later). */
  microbatch: number;
  ts: number;
  dur: number;
  tid: number;
  rule: MarkerRule;
}
export type MarkerRule = 'Forward {i}' | 'DeepSpeed _exec_*' | 'Megatron forward_step';

const GPIPE_MARK = /^(Forward|Backward) (\d+)$/;
const DEEPSPEED_MARK = /_exec_(forward_pass|backward_pass|optimizer_step)$/;
const MEGATRON_MARK = /(?:^|[\s:.])(forward_step|backward_step)$/;

/** An engine marker's kind from its name and category, or null. */
export function engineMarker(cat: string, name: string): { kind: EngineMarker['kind']; microbatch: number; rule: MarkerRule } | null {
  if (cat === 'user_annotation') {
    const m = GPIPE_MARK.exec(name);
    return m ? { kind: m[1] === 'Forward' ? 'F' : 'B', microbatch: Number(m[2]), rule: 'Forward {i}' } : null;
  }
  if (cat !== 'python_function') return null;
  const d = DEEPSPEED_MARK.exec(name);
  if (d) return { kind: d[1] === 'forward_pass' ? 'F' : d[1] === 'backward_pass' ? 'B' : 'OPT', microbatch: -1, rule: 'DeepSpeed _exec_*' };
  const g = MEGATRON_MARK.exec(name);
  return g ? { kind: g[1] === 'forward_step' ? 'F' : 'B', microbatch: -1, rule: 'Megatron forward_step' } : null;
}

/** One rank file, reduced to what the Timeline needs: compact columns of its GPU activity, its steps and `PP:` marks. */
export interface KinetoRank {
  file: string;
  /** distributedInfo.rank; null when the file does not say. */
  rank: number | null;
  worldSize: number | null;
  backend: string | null;
  /** baseTimeNanoseconds / 1000, or null. */
  baseUs: number | null;
  /**
   * GPU activity in file order, times in the file's µs. kind: OP code (KERNEL, COMM, MEMCPY, MEMSET). `launch`: when the
   * CPU launched it (cuda_runtime / cuda_driver event with the same correlation), NaN when not in the trace; `launchTid`:
   * the thread that launched it (NaN likewise); `group`: index into `groupRanks` of the process group an NCCL kernel's
   * args name ("Process Group Ranks"), else -1; `peer`: a p2p op's peer when the trace names it, else -1; `backward`: 1
   * for the autograd engine's work; `hta`: how HTA reads it (htaKernelType of its name | HTA_UNCORRELATED |
   * HTA_NO_STREAM). In a CPU-only trace (`timedOn` 'cpu') it holds the CPU ranges of kineto-cpu.ts.
   */
  gpu: DeviceColumns;
  /** What `gpu` holds: GPU activity, or (a file without any) the CPU ranges that stand in for it. */
  timedOn: 'gpu' | 'cpu';
  /** Process groups' global ranks, as NCCL kernels' args list them. */
  groupRanks: number[][];
  /** distributedInfo.pg_config groups this rank belongs to (PyTorch lists only those). */
  pgConfig: { name: string; desc: string; ranks: number[] }[];
  /** CPU threads of the autograd engine (thread_name pt_autograd_*, else launching threads other than the main one). */
  autogradTids: number[];
  /** The thread ProfilerStep#N runs on (the main thread), or null. */
  mainTid: number | null;
  /** Engine markers that are not `PP:` (GPipe's Forward {i}, DeepSpeed's _exec_*, Megatron's forward_step …). */
  markers: EngineMarker[];
  /**
   * HTA rounds each event inward to whole µs (pandas reads the file's ts column as floats): some event's ts has a
   * fraction of a µs (Kineto's ns floats), or some event has no ts (a column with a gap is a float column).
   */
  fractionalTs: boolean;
  /** Strings gpu.label indexes. */
  labels: string[];
  /** ProfilerStep#N windows, sorted by start, in the file's µs. */
  steps: { step: number; startUs: number; endUs: number }[];
  pp: { cpu: PPMark[]; gpu: PPMark[] };
  /** Problems found in this file that did not stop the import. */
  warnings: string[];
}

/** How a caller tells a Kineto file from a pipeprof trace by its top-level keys (pipeprof traces have a "pipeprof" key). */
export function isKinetoHeader(header: Record<string, unknown>): boolean {
  if (!isObj(header) || 'pipeprof' in header) return false;
  return ['distributedInfo', 'schemaVersion', 'deviceProperties', 'baseTimeNanoseconds', 'traceName'].some((k) => k in header);
}

/** Accumulates one rank file's events (batches in file order), keeping only what the Timeline needs. */
export class KinetoRankReader {
  private kind = new Grow(new Uint8Array(1024));
  private start = f64();
  private dur = f64();
  /** GPUs seen (a rank file should hold one): streams are not kept, as HTA's breakdown merges them. */
  private devices = new Set<number>();
  private corr = f64();
  private hta = new Grow(new Uint8Array(1024));
  private label = i32();
  private bytes = f64();
  private labels = new Labels();
  /** Launches: correlation id → CPU time. */
  private launchCorr = f64();
  private launchTs = f64();
  private launchTid = f64();
  private group = i32();
  private groupRanks: number[][] = [];
  private groupIndex = new Map<string, number>();
  private threadNames = new Map<number, string>();
  private markers: EngineMarker[] = [];
  private mainTid: number | null = null;
  private fractionalTs = false;
  private steps: { step: number; startUs: number; endUs: number }[] = [];
  private ppCpu: PPMark[] = [];
  private ppGpu: PPMark[] = [];
  private unknownPP = new Map<string, number>();
  /** CPU ops and gloo work, kept until the file shows GPU activity (a CPU-only trace is timed by them). */
  private cpu = new CpuActivity();
  private negative = 0;
  private firstNegative = '';
  private unusable = 0;
  private events = 0;

  constructor(readonly file: string) {}

  /** Times of an X event, or null (counted) when they are not usable. */
  private times(e: Obj, what: string): { ts: number; dur: number } | null {
    const ts = e.ts;
    const dur = e.dur;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || typeof dur !== 'number' || Number.isNaN(dur)) {
      this.unusable++;
      return null;
    }
    if (dur < 0 || !Number.isFinite(dur)) {
      if (!this.negative) this.firstNegative = `${what} ${show(e.name)} at ts ${ts} with dur ${dur}`;
      this.negative++;
      return null;
    }
    return { ts, dur };
  }

  private mark(e: Obj, name: string, into: PPMark[]): void {
    const m = PP_NAME.exec(name);
    if (!m) {
      this.unknownPP.set(name, (this.unknownPP.get(name) ?? 0) + 1);
      return;
    }
    const t = this.times(e, 'annotation');
    if (t) into.push({ name, stage: Number(m[1]), op: m[2] as PPOp, microbatch: m[3] === '' ? -1 : Number(m[3]), ts: t.ts, dur: t.dur });
  }

  addEvents(batch: unknown[]): void {
    if (!Array.isArray(batch)) throw new TraceError(`${this.file}: "traceEvents" must be a list of events (got ${show(batch)}); ${FIX_PROFILE}`);
    for (let i = 0; i < batch.length; i++) {
      this.events++;
      const e = batch[i];
      if (!isObj(e)) {
        this.unusable++;
        continue;
      }
      // pandas' ts column is a float column when a ts has a fraction or an event has none (metadata included).
      if (!this.fractionalTs && !(typeof e.ts === 'number' && Number.isInteger(e.ts))) this.fractionalTs = true;
      if (e.ph === 'M') {
        if (e.name === 'thread_name' && typeof e.tid === 'number' && isObj(e.args) && typeof e.args.name === 'string') this.threadNames.set(e.tid, e.args.name);
        continue;
      }
      if (e.ph !== 'X') continue;
      const cat = typeof e.cat === 'string' ? e.cat.toLowerCase() : '';
      const name = typeof e.name === 'string' ? e.name : '';
      const syncOnStream = cat === 'cuda_sync' && isObj(e.args) && typeof e.args.stream === 'number' && e.args.stream >= 0;
      if (cat === 'kernel' || cat === 'gpu_memcpy' || cat === 'gpu_memset' || cat === 'memcpy' || cat === 'memset' || syncOnStream) {
        const t = this.times(e, cat);
        if (!t) continue;
        if (this.kind.n === 0) this.cpu.drop();
        const a = isObj(e.args) ? e.args : {};
        let kind: number = cat === 'kernel' ? OP.KERNEL : syncOnStream ? OP.SYNC : cat.endsWith('memcpy') ? OP.MEMCPY : OP.MEMSET;
        let label = -1;
        let bytes = typeof a.bytes === 'number' && a.bytes > 0 ? a.bytes : 0;
        if (kind === OP.KERNEL && name.startsWith('nccl') && NCCL_KERNEL.test(name)) {
          kind = OP.COMM;
          const coll = a['Collective name'];
          // A batched send + receive (batch_isend_irecv: "coalesced") runs as one SendRecv kernel.
          const fromArgs = typeof coll === 'string' && coll ? collectiveName(coll) : '';
          const fromName = collectiveOfKernel(name);
          label = this.labels.of(fromArgs && !(fromName === 'SendRecv' && !['Send', 'Recv'].includes(fromArgs)) ? fromArgs : fromName);
          const n = Math.max(Number(a['In msg nelems']) || 0, Number(a['Out msg nelems']) || 0);
          bytes = n > 0 && typeof a.dtype === 'string' ? n * dtypeBytes(a.dtype) : 0;
        }
        this.kind.push(kind);
        this.start.push(t.ts);
        this.dur.push(t.dur);
        const device = typeof a.device === 'number' ? a.device : e.pid;
        if (typeof device === 'number' && device >= 0) this.devices.add(device);
        this.corr.push(typeof a.correlation === 'number' ? a.correlation : NaN);
        const stream = typeof a.stream === 'number' ? a.stream : typeof a.stream === 'string' && a.stream.trim() ? Number(a.stream) : NaN;
        this.hta.push(htaKernelType(name) | (typeof a.correlation === 'number' && a.correlation >= 0 ? 0 : HTA_UNCORRELATED) | (Number.isFinite(stream) && stream !== -1 ? 0 : HTA_NO_STREAM));
        this.label.push(label);
        this.bytes.push(bytes);
        this.group.push(kind === OP.COMM ? this.groupOf(a['Process Group Ranks']) : -1);
      } else if (cat === 'cuda_runtime' || cat === 'cuda_driver' || cat === 'runtime') {
        const a = e.args;
        if (isObj(a) && typeof a.correlation === 'number' && typeof e.ts === 'number' && Number.isFinite(e.ts)) {
          this.launchCorr.push(a.correlation);
          this.launchTs.push(e.ts);
          this.launchTid.push(typeof e.tid === 'number' ? e.tid : NaN);
        }
      } else if (cat === 'cpu_op') {
        const t = this.times(e, cat);
        if (t) this.cpu.addOp(e, name, t.ts, t.dur);
      } else if (cat === 'user_annotation') {
        if (name.startsWith('PP:')) this.mark(e, name, this.ppCpu);
        else if (name.startsWith('gloo:')) {
          const t = this.times(e, 'gloo annotation');
          if (t) this.cpu.addWork(e, name, t.ts, t.dur);
        }
        else if (name.startsWith('ProfilerStep')) {
          const m = STEP_NAME.exec(name);
          const t = m ? this.times(e, 'ProfilerStep') : null;
          if (m && t) this.steps.push({ step: Number(m[1]), startUs: t.ts, endUs: t.ts + t.dur });
          if (m && t && typeof e.tid === 'number') this.mainTid ??= e.tid;
        } else this.engineMark(e, cat, name);
      } else if (cat === 'gpu_user_annotation' && name.startsWith('PP:')) this.mark(e, name, this.ppGpu);
      else if (cat === 'python_function') this.engineMark(e, cat, name);
    }
  }

  private engineMark(e: Obj, cat: string, name: string): void {
    const m = engineMarker(cat, name);
    if (!m) return;
    const t = this.times(e, cat);
    if (t) this.markers.push({ ...m, ts: t.ts, dur: t.dur, tid: typeof e.tid === 'number' ? e.tid : -1 });
  }

  /** Index of a process group's rank list ("[0, 4]" in NCCL kernel args), -1 when absent or unreadable. */
  private groupOf(v: unknown): number {
    if (typeof v !== 'string' || !v.startsWith('[')) return -1;
    let i = this.groupIndex.get(v);
    if (i !== undefined) return i;
    let ranks: unknown;
    try {
      ranks = JSON.parse(v);
    } catch {
      ranks = null;
    }
    i = Array.isArray(ranks) && ranks.length && ranks.every((r) => Number.isInteger(r) && r >= 0) ? this.groupRanks.push(ranks as number[]) - 1 : -1;
    this.groupIndex.set(v, i);
    return i;
  }

  /** The rank as the Timeline builder needs it; `header` is the file's top-level object without traceEvents. */
  finish(header: Record<string, unknown>): KinetoRank {
    const file = this.file;
    if (!isObj(header)) throw new TraceError(`${file}: the trace's top level must be a JSON object (got ${show(header)}); ${FIX_PROFILE}`);
    if ('pipeprof' in header)
      throw new TraceError(`${file}: is a pipeprof trace (it has a "pipeprof" block), not a PyTorch profiler trace; read it as a pipeprof trace`);
    const n = this.kind.n;
    if (!isKinetoHeader(header) && n === 0 && !this.steps.length && !this.ppCpu.length && !this.ppGpu.length)
      throw new TraceError(
        `${file}: not a PyTorch profiler (Kineto) trace: no distributedInfo, schemaVersion or deviceProperties at the top and no kernel, gpu_memcpy, gpu_memset, ProfilerStep#N or PP: events among its ${this.events} events; ${FIX_PROFILE}`,
      );
    const warnings: string[] = [];
    const di = isObj(header.distributedInfo) ? header.distributedInfo : {};
    const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);
    const rank = int(di.rank);
    if (di.rank !== undefined && rank === null)
      warnings.push(`${file}: distributedInfo.rank must be a rank number ≥ 0 (got ${show(di.rank)}); the file is read as if it named no rank; export it from a process with torch.distributed initialised`);
    const base = header.baseTimeNanoseconds;
    const baseUs = typeof base === 'number' && Number.isFinite(base) ? base / 1000 : null;

    // Launch time of each GPU event, by correlation id (launches sorted once, then binary search).
    const corr = this.corr.done();
    const launch = new Float64Array(n).fill(NaN);
    const launchTid = new Float64Array(n).fill(NaN);
    const lc = this.launchCorr.done();
    const lt = this.launchTs.done();
    const ltid = this.launchTid.done();
    if (lc.length) {
      const order = Uint32Array.from({ length: lc.length }, (_, i) => i).sort((a, b) => lc[a] - lc[b]);
      const keys = Float64Array.from(order, (i) => lc[i]);
      for (let i = 0; i < n; i++) {
        const c = corr[i];
        if (Number.isNaN(c)) continue;
        let lo = 0;
        let hi = keys.length - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          if (keys[mid] < c) lo = mid + 1;
          else if (keys[mid] > c) hi = mid - 1;
          else {
            launch[i] = lt[order[mid]];
            launchTid[i] = ltid[order[mid]];
            break;
          }
        }
      }
    }

    // Steps: sorted; a repeated number or an overlap is one line each (the first few).
    const steps = this.steps.slice().sort((a, b) => a.startUs - b.startUs || a.step - b.step);
    const kept: typeof steps = [];
    const seen = new Set<number>();
    for (const s of steps) {
      if (seen.has(s.step)) {
        warnings.push(`${file}: ProfilerStep#${s.step} appears more than once; the first is kept; call prof.step() once per iteration`);
        continue;
      }
      seen.add(s.step);
      const prev = kept[kept.length - 1];
      if (prev && s.startUs < prev.endUs)
        warnings.push(
          `${file}: ProfilerStep#${prev.step} and ProfilerStep#${s.step} overlap by ${fmtMs(prev.endUs - s.startUs)} (a step must end before the next begins); each kernel goes to the step that launched it; call prof.step() once per iteration, outside other profiled regions`,
        );
      kept.push(s);
    }

    const devices = [...this.devices].sort((a, b) => a - b);
    const cpu = n === 0 ? this.cpu.build((s) => this.labels.of(s)) : null;
    if (devices.length > 1)
      warnings.push(`${file}: GPU events on ${devices.length} devices (${devices.join(', ')}) in one rank file; they are analysed as one rank; profile one GPU per rank (one process per device)`);
    if (this.negative)
      warnings.push(`${file}: ${this.negative} event(s) with a negative or infinite dur skipped (first: ${this.firstNegative}); the profiler's clock went backwards? re-profile, or drop those events`);
    if (this.unusable)
      warnings.push(`${file}: ${this.unusable} event(s) skipped: not an object, or an X event without numeric ts and dur; the file may be damaged; export it again`);
    if (this.unknownPP.size) {
      const names = [...this.unknownPP.keys()];
      warnings.push(
        `${file}: ${[...this.unknownPP.values()].reduce((a, b) => a + b, 0)} PP: annotation(s) name no known action (e.g. ${show(names[0])}; known: PP:<stage><${PP_OPS.join('|')}><micro-batch>); they are left out`,
      );
    }
    const pg = di.pg_config;
    const pgConfig = Array.isArray(pg)
      ? pg.filter(isObj).map((g) => ({ name: String(g.pg_name ?? ''), desc: String(g.pg_desc ?? ''), ranks: Array.isArray(g.ranks) ? g.ranks.filter((x): x is number => Number.isInteger(x)) : [] }))
      : [];
    // The autograd engine's threads: by name, else the threads other than the main one that launch GPU work.
    let autogradTids = [...this.threadNames].filter(([, nm]) => /autograd/i.test(nm)).map(([tid]) => tid);
    if (!autogradTids.length && this.mainTid !== null) autogradTids = [...new Set(Array.from(launchTid).filter((x) => Number.isFinite(x) && x !== this.mainTid))];
    const fromAutograd = new Set(autogradTids);
    const gpu: DeviceColumns = cpu ?? {
      length: n, kind: this.kind.done(), start: this.start.done(), dur: this.dur.done(),
      launch, label: this.label.done(), bytes: this.bytes.done(), launchTid, hta: this.hta.done(), group: this.group.done(), peer: new Int32Array(n).fill(-1),
      backward: Uint8Array.from(launchTid, (tid) => (fromAutograd.has(tid) ? 1 : 0)),
    };
    return {
      file, rank, worldSize: int(di.world_size) || null, backend: typeof di.backend === 'string' ? di.backend : null,
      baseUs, gpu, timedOn: cpu ? 'cpu' : 'gpu',
      groupRanks: this.groupRanks, pgConfig, autogradTids, mainTid: this.mainTid, markers: this.markers.sort((a, b) => a.ts - b.ts), fractionalTs: this.fractionalTs,
      labels: this.labels.list.slice(),
      steps: kept,
      pp: { cpu: this.ppCpu, gpu: this.ppGpu },
      warnings,
    };
  }
}

// ------------------------------------------------------------------ ranks → one Timeline

/** Median of the shortest half of xs: the centre of its densest half, robust to up to half outliers. */
export function shortestHalfMedian(xs: readonly number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  if (!s.length) return 0;
  const h = Math.ceil(s.length / 2);
  let best = 0;
  for (let i = 1; i + h <= s.length; i++) if (s[i + h - 1] - s[i] < s[best + h - 1] - s[best]) best = i;
  const half = s.slice(best, best + h);
  const m = half.length >> 1;
  return half.length % 2 ? half[m] : (half[m - 1] + half[m]) / 2;
}

const rankList = (xs: readonly number[]) => (xs.length > 6 ? `${xs.slice(0, 6).join(', ')}, …` : xs.join(', '));

/** Keeps one rank per number from one job; a line for each file left out. */
function chooseRanks(ranks: KinetoRank[], warnings: string[]): (KinetoRank & { rank: number })[] {
  if (!ranks.length) throw new TraceError('no Kineto rank files to analyse; pass one PyTorch profiler trace per rank');
  if (ranks.length === 1 && ranks[0].rank === null) {
    warnings.push(`${ranks[0].file}: distributedInfo.rank is missing; taken as rank 0 (one file); export traces from processes with torch.distributed initialised to name their rank`);
    return [{ ...ranks[0], rank: 0 }];
  }
  const unnamed = ranks.filter((r) => r.rank === null);
  if (unnamed.length === ranks.length)
    throw new TraceError(
      `${ranks.map((r) => r.file).join(', ')}: none of these ${ranks.length} files names its rank (distributedInfo.rank), so they cannot be told apart; export each rank's trace from a process with torch.distributed initialised, or analyse the files one at a time`,
    );
  if (unnamed.length)
    warnings.push(
      `${unnamed.map((r) => r.file).join(', ')}: distributedInfo.rank is missing while the other files name theirs; left out; export every rank's trace with torch.distributed initialised`,
    );
  let named = ranks.filter((r): r is KinetoRank & { rank: number } => r.rank !== null);
  // One job: the signature most files share; a field a file lacks does not count against it. Process groups are not
  // part of it: PyTorch lists in each rank's pg_config only the groups that rank belongs to (they differ across a
  // data-parallel or Megatron job); two ranks are of different jobs when a group of the same name lists other ranks.
  const sig = (r: KinetoRank) => JSON.stringify([r.worldSize, r.backend]);
  const votes = new Map<string, number>();
  for (const r of named) votes.set(sig(r), (votes.get(sig(r)) ?? 0) + 1);
  const top = [...votes.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const ref = named.find((r) => sig(r) === top)!;
  const differs = (a: unknown, b: unknown) => a !== null && b !== null && a !== b;
  named = named.filter((r) => {
    const what: string[] = [];
    if (differs(r.worldSize, ref.worldSize)) what.push(`world_size ${r.worldSize} (the others: ${ref.worldSize})`);
    if (differs(r.backend, ref.backend)) what.push(`backend ${r.backend} (the others: ${ref.backend})`);
    const clash = groupClash(r, ref);
    if (clash) what.push(clash);
    if (what.length) warnings.push(`${r.file}: rank ${r.rank} is from another job: ${what.join(', ')}; left out; pass the rank files of one run`);
    return !what.length;
  });
  const byRank = new Map<number, KinetoRank & { rank: number }>();
  for (const r of named) {
    const other = byRank.get(r.rank);
    if (other) warnings.push(`${r.file}: rank ${r.rank} again (also ${other.file}); left out; pass one file per rank`);
    else if (r.worldSize !== null && r.rank >= r.worldSize)
      warnings.push(`${r.file}: rank ${r.rank} is not below world_size ${r.worldSize}; left out; the file's distributedInfo is wrong`);
    else byRank.set(r.rank, r);
  }
  return [...byRank.values()].sort((a, b) => a.rank - b.rank);
}

/** A process group both ranks list under one name with different members ("process group 'x' [0,1] (the others: [0,2])"), or null. */
function groupClash(r: KinetoRank, ref: KinetoRank): string | null {
  const theirs = new Map(ref.pgConfig.map((g) => [g.name, g.ranks]));
  for (const g of r.pgConfig) {
    const o = theirs.get(g.name);
    if (o && JSON.stringify(o) !== JSON.stringify(g.ranks)) return `process group '${g.name}' ranks [${g.ranks.join(',')}] (the others: [${o.join(',')}])`;
  }
  return null;
}

/** Start-ordered NCCL kernel indices of a rank. */
function commOrder(r: KinetoRank): number[] {
  const out: number[] = [];
  for (let i = 0; i < r.gpu.length; i++) if (r.gpu.kind[i] === OP.COMM) out.push(i);
  return out.sort((a, b) => r.gpu.start[a] - r.gpu.start[b] || a - b);
}

/** First and last time a rank shows (GPU activity, steps, PP marks), in its file's µs. */
function extent(r: KinetoRank): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  const add = (a: number, b: number) => {
    if (a < lo) lo = a;
    if (b > hi) hi = b;
  };
  for (let i = 0; i < r.gpu.length; i++) add(r.gpu.start[i], r.gpu.start[i] + r.gpu.dur[i]);
  for (const s of r.steps) add(s.startUs, s.endUs);
  for (const m of r.pp.cpu) add(m.ts, m.ts + m.dur);
  for (const m of r.pp.gpu) add(m.ts, m.ts + m.dur);
  return { lo, hi };
}


/** Every rank on one clock: ts (+ baseTimeNanoseconds when all have it), minus skew from matched NCCL kernels; disjoint ranks out. */
function alignClocks(ranks: (KinetoRank & { rank: number })[], warnings: string[]): Placed[] {
  const withBase = ranks.filter((r) => r.baseUs !== null);
  const useBase = withBase.length === ranks.length;
  if (withBase.length && !useBase)
    warnings.push(
      `baseTimeNanoseconds is in ${withBase.length} of ${ranks.length} rank files (missing in ${ranks.filter((r) => r.baseUs === null).map((r) => r.file).join(', ')}); clocks combined from ts alone; export every rank with the same PyTorch version`,
    );
  const base = (r: KinetoRank) => (useBase ? r.baseUs! : 0);
  let placed: Placed[] = ranks.map((r) => ({ r, ...extent(r), offset: 0, skew: 0, stages: [], row: 0, replica: 0, tail: new Map(), head: new Map(), rule: '' }));
  // Offsets against the earliest rank: differences of large numbers first, so that ts + offset stays exact.
  const ref = placed.reduce((b, p) => (p.lo + base(p.r) < b.lo + base(b.r) ? p : b), placed[0]);
  for (const p of placed) p.offset = base(p.r) - base(ref.r) - ref.lo;
  if (placed.length > 1) estimateSkew(placed, useBase, warnings);

  if (placed.length > 1) {
    // Ranks that share no time with the rest are from another window or run: keep those overlapping the best-connected.
    const lo = (p: Placed) => p.lo + p.offset;
    const hi = (p: Placed) => p.hi + p.offset;
    const overlaps = (a: Placed, b: Placed) => lo(a) < hi(b) && lo(b) < hi(a);
    const links = placed.map((a) => placed.filter((b) => b !== a && overlaps(a, b)).length);
    const hub = placed[links.indexOf(Math.max(...links))];
    for (const p of placed)
      if (p !== hub && !overlaps(p, hub))
        warnings.push(
          `${p.r.file}: rank ${p.r.rank} shares no time with rank ${hub.r.rank} after alignment (its events span ${fmtMs(lo(p))}–${fmtMs(hi(p))}, rank ${hub.r.rank}'s ${fmtMs(lo(hub))}–${fmtMs(hi(hub))} on the run clock); left out; profile the same steps on every rank`,
        );
    placed = placed.filter((p) => p === hub || overlaps(p, hub));
  }
  // The run starts at 0.
  const t0 = Math.min(...placed.map((p) => p.lo + p.offset));
  for (const p of placed) p.offset -= t0;
  return placed;
}

/** Skew per rank against the first, when every rank ran the same NCCL kernel sequence; a line when it is large or unknown. */
function estimateSkew(placed: Placed[], useBase: boolean, warnings: string[]): void {
  const orders = placed.map((p) => commOrder(p.r));
  const seq = (i: number) => orders[i].map((k) => placed[i].r.labels[placed[i].r.gpu.label[k]]);
  const seq0 = seq(0);
  const recorded = `times are taken as recorded${useBase ? ' (ts + baseTimeNanoseconds)' : ''}`;
  if (orders.every((o) => !o.length)) {
    warnings.push(`clock skew not estimated: no rank ran an NCCL kernel to match; ${recorded}`);
    return;
  }
  if (!seq0.length || !placed.every((_, i) => orders[i].length === seq0.length && seq(i).every((l, j) => l === seq0[j]))) {
    const summary = (i: number) => {
      const c = new Map<string, number>();
      for (const l of seq(i)) c.set(l, (c.get(l) ?? 0) + 1);
      return [...c.entries()].map(([l, k]) => `${k} ${l}`).join(' + ') || 'none';
    };
    const other = Math.max(1, placed.findIndex((_, i) => i > 0 && summary(i) !== summary(0)));
    warnings.push(
      `clock skew not estimated: the ranks' NCCL kernel sequences differ (rank ${placed[0].r.rank}: ${summary(0)}; rank ${placed[other].r.rank}: ${summary(other)}), so collectives cannot be matched; ${recorded}`,
    );
    return;
  }
  const end = (i: number, j: number) => placed[i].r.gpu.start[orders[i][j]] + placed[i].r.gpu.dur[orders[i][j]] + placed[i].offset;
  for (let i = 1; i < placed.length; i++) {
    const p = placed[i];
    p.skew = shortestHalfMedian(seq0.map((_, j) => end(i, j) - end(0, j)));
    p.offset -= p.skew;
    if (Math.abs(p.skew) > 1000)
      warnings.push(
        `${p.r.file}: rank ${p.r.rank}'s clock is ${fmtMs(Math.abs(p.skew))} ${p.skew > 0 ? 'ahead of' : 'behind'} rank ${placed[0].r.rank}'s (from the end times of ${seq0.length} matched NCCL kernels, which end together); corrected; synchronise the hosts' clocks (NTP/PTP) to trust cross-rank times without it`,
      );
  }
}

/** Rows: each rank in rank order, or (with `PP:` marks) its smallest stage; ranks on one row are replicas. */
function placeRows(placed: Placed[], warnings: string[]): { placed: Placed[]; pipeline: boolean; stages: number; perRank: number; rowOfStage: Map<number, number> } {
  const marks = (p: Placed) => p.r.pp.cpu.length + p.r.pp.gpu.length > 0;
  const pipeline = placed.some(marks);
  if (pipeline && !placed.every(marks)) {
    const without = placed.filter((p) => !marks(p));
    warnings.push(
      `${without.map((p) => p.r.file).join(', ')}: rank(s) ${without.map((p) => p.r.rank).join(', ')} have no PP: annotations while the others do; left out of the pipeline; profile every pipeline rank`,
    );
    placed = placed.filter(marks);
  }
  const rowOfStage = new Map<number, number>();
  const onRow = new Map<number, number>();
  placed.forEach((p, i) => {
    p.stages = pipeline ? [...new Set([...p.r.pp.cpu, ...p.r.pp.gpu].map((m) => m.stage))].sort((a, b) => a - b) : [];
    p.row = pipeline ? p.stages[0] : i;
    p.replica = onRow.get(p.row) ?? 0;
    onRow.set(p.row, p.replica + 1);
    for (const s of p.stages) rowOfStage.set(s, p.row);
  });
  const stages = Math.max(...placed.map((p) => p.row)) + 1;
  const missing = Array.from({ length: stages }, (_, s) => s).filter((s) => !onRow.has(s));
  if (missing.length)
    warnings.push(
      `stage(s) ${missing.join(', ')} have no rank file (the ranks given run stages ${rankList([...rowOfStage.keys()].sort((a, b) => a - b))}); those rows stay empty; pass every pipeline rank's trace`,
    );
  const perRank = pipeline ? Math.max(...placed.map((p) => p.stages.length)) : 1;
  return { placed, pipeline, stages, perRank, rowOfStage };
}

/** An empty device table. */
const noDevice = (): DeviceColumns => ({
  length: 0, kind: new Uint8Array(0), start: new Float64Array(0), dur: new Float64Array(0), launch: new Float64Array(0), label: new Int32Array(0),
  bytes: new Float64Array(0), launchTid: new Float64Array(0), hta: new Uint8Array(0), group: new Int32Array(0), peer: new Int32Array(0), backward: new Uint8Array(0),
});

/** Interns strings into one list (the Timeline's labels). */
class Labels {
  list: string[] = [];
  private index = new Map<string, number>();
  of(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** Every GPU event of every rank on the run clock; step = the step that launched it (by start when the launch is unknown). */
function kernelTable(placed: Placed[], labels: Labels): OpTable {
  const total = placed.reduce((a, p) => a + p.r.gpu.length, 0);
  const k = allocOpTable(total);
  const label = (k.label = new Int32Array(total));
  const launch = (k.launch = new Float64Array(total));
  const hta = (k.hta = new Uint8Array(total));
  let n = 0;
  for (const p of placed) {
    const g = p.r.gpu;
    const local = p.r.labels.map((s) => labels.of(s));
    for (let i = 0; i < g.length; i++) {
      const w = windowAt(p.r.steps, Number.isNaN(g.launch[i]) ? g.start[i] : g.launch[i]);
      const step = w < 0 ? -1 : p.r.steps[w].step;
      const j = n++;
      k.kind[j] = g.kind[i];
      k.stage[j] = p.row;
      k.replica[j] = p.replica;
      k.lane[j] = LANE_OF_KIND[g.kind[i]];
      k.microbatch[j] = k.chunk[j] = k.peer[j] = -1;
      k.step[j] = step;
      k.start[j] = g.start[i] + p.offset;
      k.dur[j] = g.dur[i];
      k.bytes[j] = g.bytes[i];
      label[j] = g.label[i] < 0 ? -1 : local[g.label[i]];
      launch[j] = g.launch[i] + p.offset;
      hta[j] = g.hta[i];
      if (step >= 0) {
        p.tail.set(step, Math.max(p.tail.get(step) ?? -Infinity, k.start[j] + g.dur[i]));
        p.head.set(step, Math.min(p.head.get(step) ?? Infinity, k.start[j]));
      }
    }
  }
  return finishOpTable(k, n);
}

/** The pipeline ops of `PP:` marks: the n-th CPU mark of a name pairs with the n-th GPU one, else spans the kernels it launched. */
function pipelineOps(placed: Placed[], rowOfStage: Map<number, number>, perRank: number, labels: Labels, warnings: string[]): OpTable {
  const maxStage = Math.max(...rowOfStage.keys());
  /** Ranks per pipeline, for chunk = floor(stage / P) when a rank runs several stages. */
  const P = (maxStage + 1) % perRank === 0 ? (maxStage + 1) / perRank : new Set(placed.map((p) => p.row)).size;
  const out: RawOp[] = [];
  let cpuTimed = 0;
  for (const p of placed) {
    const g = p.r.gpu;
    const byLaunch = Array.from({ length: g.length }, (_, i) => i).filter((i) => !Number.isNaN(g.launch[i])).sort((a, b) => g.launch[a] - g.launch[b]);
    /** GPU events launched in [a, b]. */
    const launched = (a: number, b: number) => {
      let lo = 0;
      let hi = byLaunch.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (g.launch[byLaunch[mid]] < a) lo = mid + 1;
        else hi = mid;
      }
      const found: number[] = [];
      for (let j = lo; j < byLaunch.length && g.launch[byLaunch[j]] <= b; j++) found.push(byLaunch[j]);
      return found;
    };
    const add = (m: PPMark, start: number, dur: number, launchedAt: number, bytes: number) => {
      const kind = OP[PP_KIND[m.op]];
      const d = PP_PEER[m.op];
      const w = windowAt(p.r.steps, launchedAt);
      const step = w < 0 ? -1 : p.r.steps[w].step;
      if (step >= 0) {
        p.tail.set(step, Math.max(p.tail.get(step) ?? -Infinity, start + p.offset + dur));
        p.head.set(step, Math.min(p.head.get(step) ?? Infinity, start + p.offset));
      }
      out.push({
        kind, stage: p.row, replica: p.replica, microbatch: m.microbatch, chunk: perRank > 1 ? Math.floor(m.stage / P) : -1, step,
        peer: d === undefined ? -1 : (rowOfStage.get(m.stage + d) ?? -1), start: start + p.offset, dur, bytes,
        label: m.op === 'UNSHARD' || m.op === 'RESHARD' ? labels.of(m.op) : -1,
      });
    };
    const gpuByName = new Map<string, PPMark[]>();
    for (const m of p.r.pp.gpu.slice().sort((a, b) => a.ts - b.ts)) {
      let same = gpuByName.get(m.name);
      if (!same) gpuByName.set(m.name, (same = []));
      same.push(m);
    }
    const used = new Map<string, number>();
    for (const m of p.r.pp.cpu.slice().sort((a, b) => a.ts - b.ts)) {
      // The GPU work of an action: the kernels launched while its CPU range ran, from its thread or the autograd engine's
      // (a backward's kernels are launched there, so the gpu_user_annotation of a B, I or W covers only the main thread's
      // few); compute kernels for compute actions, NCCL kernels for communication ones.
      const comm = PP_KIND[m.op] !== 'F' && PP_KIND[m.op] !== 'B' && PP_KIND[m.op] !== 'W';
      const inside = launched(m.ts, m.ts + m.dur).filter((i) => (comm ? g.kind[i] === OP.COMM : g.kind[i] === OP.KERNEL));
      let bytes = 0;
      for (const i of inside) if (g.kind[i] === OP.COMM) bytes += g.bytes[i];
      const nth = used.get(m.name) ?? 0;
      used.set(m.name, nth + 1);
      const twin = gpuByName.get(m.name)?.[nth];
      if (!inside.length && twin) add(m, twin.ts, twin.dur, m.ts, bytes);
      else if (inside.length) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const i of inside) {
          lo = Math.min(lo, g.start[i]);
          hi = Math.max(hi, g.start[i] + g.dur[i]);
        }
        add(m, lo, hi - lo, m.ts, bytes);
      } else if (p.r.timedOn === 'gpu') {
        cpuTimed++;
        add(m, m.ts, m.dur, m.ts, bytes);
      } else if (!comm) add(m, m.ts, m.dur, m.ts, bytes);
      // A CPU-only trace holds every c10d call: a communication action that made none (REDUCE_GRAD without data
      // parallelism, UNSHARD without FSDP) did not communicate, and is left out.

    }
    // GPU-side marks without a CPU one.
    for (const [name, list] of gpuByName) for (const m of list.slice(used.get(name) ?? 0)) add(m, m.ts, m.dur, m.ts, 0);
  }
  if (cpuTimed)
    warnings.push(
      `${cpuTimed} PP: op(s) timed on the CPU: no gpu_user_annotation of the same name and no kernel launched inside them (are cuda_runtime events in the trace?); their times are when the CPU issued them, not when the GPU ran them`,
    );
  return rawOpTable(out);
}

/** Reconstructed ops as an OpTable, sorted by start. */
function rawOpTable(out: RawOp[]): OpTable {
  const t = allocOpTable(out.length);
  const label = (t.label = new Int32Array(out.length));
  out.forEach((o, i) => {
    t.kind[i] = o.kind;
    t.stage[i] = o.stage;
    t.replica[i] = o.replica;
    t.lane[i] = LANE_OF_KIND[o.kind];
    t.microbatch[i] = o.microbatch;
    t.chunk[i] = o.chunk;
    t.step[i] = o.step;
    t.peer[i] = o.peer;
    t.start[i] = o.start;
    t.dur[i] = o.dur;
    t.bytes[i] = o.bytes;
    label[i] = o.label;
  });
  return finishOpTable(t, out.length);
}

/** Steps on the run clock: each rank's ProfilerStep#N widened to the GPU work it launched, merged over ranks. */
function stepRecords(placed: Placed[], tables: OpTable[], warnings: string[]): StepRecord[] {
  const windows = new Map<number, { s: number; e: number }>();
  for (const p of placed)
    for (const s of p.r.steps) {
      const a = s.startUs + p.offset;
      const b = Math.max(s.endUs + p.offset, p.tail.get(s.step) ?? -Infinity);
      const w = windows.get(s.step);
      if (!w) windows.set(s.step, { s: a, e: b });
      else {
        w.s = Math.min(w.s, a);
        w.e = Math.max(w.e, b);
      }
    }
  if (windows.size) return [...windows.entries()].sort((a, b) => a[0] - b[0]).map(([step, w]) => ({ step, startUs: w.s, endUs: w.e, loss: NaN, warmup: false }));
  // No ProfilerStep anywhere: the whole trace is step 0.
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of tables)
    for (let i = 0; i < t.length; i++) {
      lo = Math.min(lo, t.start[i]);
      hi = Math.max(hi, t.start[i] + t.dur[i]);
      t.step[i] = 0;
    }
  warnings.push('no ProfilerStep#N annotations in any rank file: the whole trace is analysed as one step (step 0); call prof.step() after each iteration for per-step figures');
  return [{ step: 0, startUs: lo, endUs: hi, loss: NaN, warmup: false }];
}

/** Ranks → one Timeline on one clock; `warnings` are one-line problems that did not stop the analysis. */
export function timelineFromKineto(input: KinetoRank[]): { timeline: Timeline; warnings: string[] } {
  const warnings: string[] = input.flatMap((r) => r.warnings);
  const chosen = chooseRanks(input, warnings);
  // CPU ranges stand in for device time only when no rank has GPU activity: beside GPU ranks, a CPU-only file has none.
  const anyGpu = chosen.some((r) => r.timedOn === 'gpu');
  const ranks = chosen.map((r) => (anyGpu && r.timedOn === 'cpu' ? { ...r, gpu: noDevice(), timedOn: 'gpu' as const } : r)).filter((r) => {
    const empty = !r.gpu.length && !r.pp.cpu.length && !r.pp.gpu.length;
    if (empty) warnings.push(`${r.file}: rank ${r.rank} has no GPU kernels, memcpy, memset or PP: annotations; left out; profile with ProfilerActivity.CUDA`);
    return !empty;
  });
  if (!ranks.length)
    throw new TraceError(`${input.map((r) => r.file).join(', ')}: no GPU activity to analyse in any rank file (no kernel, gpu_memcpy or gpu_memset events); ${FIX_PROFILE}`);
  const world = Math.max(...ranks.map((r) => r.worldSize ?? 0));
  if (world > ranks.length)
    warnings.push(
      `world_size is ${world} but ${ranks.length === 1 ? 'only rank' : `only ${ranks.length} ranks`} ${rankList(ranks.map((r) => r.rank))} ${ranks.length === 1 ? 'was' : 'were'} given; the figures are those ranks' alone; pass every rank's trace (or their folder) to see the whole job`,
    );
  if (ranks.some((r) => r.timedOn === 'cpu'))
    warnings.push(
      'no rank file has GPU activity (a CPU-only profile): ops are timed by CPU ranges (top-level CPU ops; gloo\'s c10d calls and their work as communication), not by kernels; profile with ProfilerActivity.CUDA on GPUs for device time',
    );
  const aligned = alignClocks(ranks, warnings);
  const labels = new Labels();
  let placed = aligned;
  let stages: number;
  let pipeline = true;
  let ops: OpTable;
  let kernels: OpTable;
  let perRank = 1;
  if (aligned.some((p) => p.r.pp.cpu.length + p.r.pp.gpu.length > 0)) {
    // torch.distributed.pipelining's own annotations.
    const rows = placeRows(aligned, warnings);
    ({ placed, stages, perRank } = rows);
    for (const p of placed) p.rule = 'PP:';
    kernels = kernelTable(placed, labels);
    ops = pipelineOps(placed, rows.rowOfStage, perRank, labels, warnings);
  } else {
    const layout = pipelineLayout(aligned);
    if (layout.ok) {
      if (layout.outside.length)
        warnings.push(`rank(s) ${rankList(layout.outside)} are in no pipeline group (no point-to-point kernel names a group holding them); left out of the pipeline; pass the ranks of one pipeline-parallel job`);
      placed = aligned.filter((p) => layout.at.has(p.r.rank));
      for (const p of placed) ({ stage: p.row, replica: p.replica } = layout.at.get(p.r.rank)!);
      stages = layout.stages;
      const have = new Set(placed.map((p) => p.row));
      const missing = Array.from({ length: stages }, (_, s) => s).filter((s) => !have.has(s));
      if (missing.length) warnings.push(`stage(s) ${missing.join(', ')} have no rank file; those rows stay empty; pass every pipeline rank's trace`);
      kernels = kernelTable(placed, labels);
      const out: RawOp[] = [];
      for (const p of placed) p.rule = engineOps(p, stages, (x) => labels.of(x), out);
      ops = rawOpTable(out);
    } else {
      // Bad input for a pipeline: the per-rank view, and why.
      warnings.push(`no pipeline: ${layout.why}; showing one row per rank`);
      pipeline = false;
      placed.forEach((p, i) => {
        p.row = i;
        p.replica = 0;
      });
      stages = placed.length;
      kernels = ops = kernelTable(placed, labels);
    }
  }
  const ref = placed.reduce((b, p) => (p.row < b.row || (p.row === b.row && p.replica < b.replica) ? p : b), placed[0]);
  const steps = pipeline && placed.some((p) => p.r.steps.length) ? periodSteps(placed, ref) : stepRecords(placed, pipeline ? [ops, kernels] : [kernels], warnings);
  const rules = [...new Set(placed.map((p) => p.rule))];
  const plan = pipeline ? guessPlan(ops, stages, placed, perRank, rules.join(' / '), warnings) : null;
  const info: RankInfo[] = placed
    .map((p) => ({
      rank: p.r.rank, worldSize: p.r.worldSize, file: p.r.file, stage: p.row, replica: p.replica, ppStages: p.stages, clockOffsetUs: p.offset, skewUs: p.skew,
      steps: p.r.steps.map((s) => s.step), ...(p.rule ? { opsRule: p.rule } : {}), ...(p.r.fractionalTs ? { fractionalTs: true } : {}),
      ...(p.r.timedOn === 'cpu' ? { timedOn: 'cpu' as const } : {}),
      ...(p.r.steps.length ? { lastStepStartUs: Math.max(...p.r.steps.map((s) => s.startUs)) + p.offset } : {}),
    }))
    .sort((a, b) => a.stage - b.stage || a.replica - b.replica);
  const timeline: Timeline = {
    source: 'measured', status: 'complete', stages, plan, batch: null, model: null, layers: [], layerCosts: [], steps, ops, memory: [],
    backend: placed[0].r.backend, host: null, origin: 'kineto', labels: labels.list, ranks: info, kernels,
  };
  return { timeline, warnings };
}

/** The plan a pipeline trace implies: one unit per stage, micro-batches from the indices, schedule from the op order. */
function guessPlan(ops: OpTable, S: number, placed: Placed[], perRank: number, rule: string, warnings: string[]): Plan {
  const balance = new Array<number>(S).fill(1);
  for (const p of placed) balance[p.row] = Math.max(1, p.stages.length);
  let maxMb = -1;
  let replicas = 1;
  let hasW = false;
  /** Per (stage, replica, step): last F start and first B start. */
  const order = new Map<string, { lastF: number; firstB: number }>();
  for (let i = 0; i < ops.length; i++) {
    const kind = ops.kind[i];
    if (kind !== OP.F && kind !== OP.B && kind !== OP.W) continue;
    if (ops.microbatch[i] > maxMb) maxMb = ops.microbatch[i];
    if (ops.replica[i] + 1 > replicas) replicas = ops.replica[i] + 1;
    if (kind === OP.W) hasW = true;
    const key = `${ops.stage[i]}:${ops.replica[i]}:${ops.step[i]}`;
    const o = order.get(key) ?? { lastF: -Infinity, firstB: Infinity };
    order.set(key, o);
    if (kind === OP.F) o.lastF = Math.max(o.lastF, ops.start[i]);
    else if (kind === OP.B) o.firstB = Math.min(o.firstB, ops.start[i]);
  }
  const allFFirst = [...order.values()].every((o) => o.lastF < o.firstB);
  const schedule: Plan['schedule'] = hasW ? 'zb-h1' : perRank > 1 ? 'interleaved-1f1b' : allFFirst ? 'gpipe' : '1f1b';
  const why = hasW ? 'W ops: input and weight gradients split'
    : perRank > 1 ? `${perRank} stages per rank`
    : allFFirst ? 'every stage runs all its F before its first B' : 'a B runs before the last F on some stage';
  const microbatches = Math.max(1, maxMb + 1);
  warnings.push(
    `plan guessed from the ops (identified by ${rule}): balance unknown, one unit per stage [${balance.join(',')}]; ${microbatches} micro-batches (largest index + 1); schedule ${schedule} (${why}); recompute unknown, taken as never`,
  );
  return { balance, microbatches, schedule, recompute: 'never', replicas };
}
