// Messages between the extension host and the trace webview: one discriminated union each way, and the view model.
import type { TraceDiff } from '../../core/analysis/diff';
import type { Report } from '../../core/analysis/report';

/** One op as drawn: times in ms from the start of the drawn span. */
export interface ViewOp {
  kind: (typeof KINDS)[number];
  /** Row: stage (or stage×replica) index into ViewModel.rows. */
  row: number;
  lane: number;
  start: number;
  dur: number;
  microbatch?: number;
  step: number;
  bytes?: number;
}

/** A whole run as the webview draws it: built by the host with core, drawn as is by the webview. */
export interface RunView {
  /** 'measured' | 'predicted'. */
  source: string;
  title: string;
  rows: string[];
  /** Columnar ops for speed: kind index into KINDS, row, start ms, duration ms, micro-batch (−1 none), step, bytes. */
  ops: { kind: Uint8Array | number[]; row: Int32Array | number[]; start: Float64Array | number[]; dur: Float64Array | number[]; microbatch: Int32Array | number[]; step: Int32Array | number[]; bytes: Float64Array | number[] };
  /** Total span, ms. */
  spanMs: number;
  /** Step boundaries, ms. */
  steps: { step: number; start: number; end: number; loss: number | null; warmup: boolean }[];
  report: Report;
  /** True when the ops were sampled (a very large trace): the view says so. */
  sampled: boolean;
}

export interface RecommendationView {
  rank: number;
  layout: string;
  balance: number[];
  microbatches: number;
  schedule: string;
  recompute: string;
  predictedStepTimeMs: number;
  /** Half-width of the prediction's interval as a share of it (absent in older hosts: no interval shown). */
  intervalRelative?: number;
  speedup: number;
  /** Whether the gain over the traced plan is beyond the interval (absent: not said). */
  faster?: boolean;
  peakMemoryBytes: number;
}

/** Op kinds by index (append only, as core's OP_KINDS; the last four come from PyTorch profiler traces). */
export const KINDS = ['F', 'B', 'W', 'R', 'SEND', 'RECV', 'ALLREDUCE', 'OPT', 'KERNEL', 'COMM', 'MEMCPY', 'MEMSET', 'COMPRESS', 'DECOMPRESS', 'SYNC'] as const;

export type ToWebview =
  /**
   * A trace (measured = the run, predicted = the simulator's replay of its plan), or two traces compared (Compare Two
   * Traces: measured = run a, predicted = run b, and `diff` = b against a, computed by the host with core/analysis/diff.ts).
   */
  | { type: 'load'; file: string; measured: RunView; predicted: RunView | null; recommendations: RecommendationView[]; notice?: string; diff?: TraceDiff }
  | { type: 'preview'; rank: number; predicted: RunView }
  | { type: 'applied'; rank: number; configFile: string }
  | { type: 'error'; message: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'apply'; rank: number }
  | { type: 'preview'; rank: number }
  | { type: 'open-config' }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };
