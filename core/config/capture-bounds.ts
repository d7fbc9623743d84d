// What a capture will take before it starts: memory (weights, activations, workers, trace) and threads, checked against the machine.
import type { ModelSpec } from '../model/types';
import type { Plan } from '../plan/types';
import { formatBytes } from '../text';

/**
 * Measured on this project's 2-core machine (wasm, mlp 8×1024, batch 32, 4 micro-batches, 2 steps; peak RSS by
 * /usr/bin/time): S=2 R=1 880 MB, S=4 R=1 1,029 MB, S=2 R=4 3,314 MB; and the R=32 at batch 128, 22 GB.
 * They fit: the main process ~150 MiB, and per worker ~75 MiB plus ~18× the bytes of the weights it holds (weights,
 * gradients, optimizer state, the layer probe's buffers and the wasm heap's growth), plus its activations.
 */
export const MEMORY_MODEL = { processBytes: 150 * 2 ** 20, workerBytes: 75 * 2 ** 20, perWeightByte: 18, perActivationByte: 4, traceBytesPerOp: 400 } as const;

/** A wasm worker's memory is 32-bit: at most 4 GiB, and tensors past it fail as "memory access out of bounds". */
export const WASM_WORKER_BYTES = 4 * 2 ** 30;

/** Threads: one per stage worker and replica (and parameter servers with sync ps). */
export const MAX_WORKERS = 512;

export interface CaptureEstimate {
  /** Whole-process peak, bytes. */
  bytes: number;
  workers: number;
  /** The busiest worker's bytes of weights, gradients and optimizer state plus activations (what its own heap must hold). */
  workerHeapBytes: number;
  /** The worker (stage) holding the most. */
  worstStage: number;
}

/** Estimates a capture's peak memory and threads from the model's layer sizes and the plan, before any worker starts. */
export function estimateCapture(model: ModelSpec, plan: Plan, batch: number, steps: number): CaptureEstimate {
  const v = plan.chunks ?? 1;
  const S = plan.balance.length / v;
  const R = plan.replicas;
  const perStageWeights = new Array<number>(S).fill(0);
  const perStageActivations = new Array<number>(S).fill(0);
  let l = 0;
  plan.balance.forEach((n, vs) => {
    for (let k = 0; k < n; k++, l++) {
      const layer = model.layers[l];
      if (!layer) continue;
      perStageWeights[vs % S] += 4 * layer.params;
      perStageActivations[vs % S] += layer.activationBytes;
    }
  });
  const perReplicaBatch = batch / R;
  let bytes = MEMORY_MODEL.processBytes;
  let workerHeapBytes = 0;
  let worstStage = 0;
  for (let s = 0; s < S; s++) {
    const activations = MEMORY_MODEL.perActivationByte * perReplicaBatch * perStageActivations[s];
    const heap = 4 * perStageWeights[s] + activations;
    if (heap > workerHeapBytes) {
      workerHeapBytes = heap;
      worstStage = s;
    }
    bytes += R * (MEMORY_MODEL.workerBytes + MEMORY_MODEL.perWeightByte * perStageWeights[s] + activations);
  }
  // The trace: a few ops per micro-batch, stage, replica and step, held until the end.
  bytes += MEMORY_MODEL.traceBytesPerOp * 6 * plan.microbatches * S * v * R * steps;
  return { bytes, workers: S * R, workerHeapBytes, worstStage };
}


/**
 * Checks an estimate against the machine: problems (refuse: more than its memory, a wasm worker past 4 GiB, more
 * workers than MAX_WORKERS) and warnings (go on: close to its free memory, more workers than cores).
 */
export function checkEstimate(e: CaptureEstimate, machine: { totalBytes: number; freeBytes: number; cores: number }, backend: string): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const est = `for ${e.workers} worker${e.workers === 1 ? '' : 's'}, estimated from the weights, activations and trace`;
  if (e.workers > MAX_WORKERS)
    problems.push(`stages × replicas is ${e.workers} workers, over the ${MAX_WORKERS} threads a capture may start; use fewer --replicas or --stages`);
  if (backend === 'wasm' && e.workerHeapBytes > WASM_WORKER_BYTES)
    problems.push(`stage ${e.worstStage} would hold ${formatBytes(e.workerHeapBytes)} of weights, gradients, optimizer state and activations, over the ${formatBytes(WASM_WORKER_BYTES)} a wasm worker can address; use more --stages, a smaller --batch or a smaller model`);
  const fix = 'use fewer --replicas or --steps, a smaller --batch or a smaller model';
  if (e.bytes > 0.9 * machine.totalBytes)
    problems.push(`this capture needs about ${formatBytes(e.bytes)} (${est}), more than this machine's ${formatBytes(machine.totalBytes)} of memory allows; ${fix}`);
  else if (e.bytes > machine.freeBytes)
    problems.push(`this capture needs about ${formatBytes(e.bytes)} (${est}), and only ${formatBytes(machine.freeBytes)} of this machine's ${formatBytes(machine.totalBytes)} is free; close other programs or ${fix}`);
  else if (e.bytes > 0.5 * machine.freeBytes)
    warnings.push(`this capture needs about ${formatBytes(e.bytes)} (${est}), over half of the ${formatBytes(machine.freeBytes)} free (of ${formatBytes(machine.totalBytes)}); other programs may push it into swap`);
  if (e.workers > 2 * machine.cores && e.workers <= MAX_WORKERS)
    warnings.push(`${e.workers} workers on ${machine.cores} cores take turns: step times then measure the contention, not the plan`);
  return { problems, warnings };
}
