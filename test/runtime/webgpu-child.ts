// Runs a webgpu job in a child process (see webgpu-env.ts), so Dawn's native stderr lines stay out of the test runner's.
import * as fs from 'node:fs';
import { PipelineError } from '../../core/runtime/executor';
import { loadBackend, workDone } from '../../core/runtime/backends';
import type { RunOptions } from '../../core/runtime/executor';
import type { Plan } from '../../core/plan/types';
import type { BuiltinModel } from '../../core/model/builtin';
import { smallRun } from './run';

/** `probe`: can Dawn start and run one op here; `work-done`: what workDone leaves queued; `run`: smallRun on webgpu. */
export type ChildJob =
  | { kind: 'probe' }
  | { kind: 'work-done' }
  | { kind: 'run'; model: BuiltinModel; plan: Partial<Plan> & { balance: number[] }; extra?: Partial<RunOptions> };

/** What a job wrote back: weights as plain arrays (JSON has no Float32Array). */
export type ChildResult =
  | { ok: true; pending?: { before: boolean; after: boolean }; losses?: number[]; weights?: Record<string, Record<string, { shape: number[]; values: number[] }>>; trace?: unknown; tensorsPerStep?: number[][] }
  | { ok: false; message: string; trace?: unknown };

async function runJob(job: ChildJob): Promise<ChildResult> {
  if (job.kind === 'probe') {
    try {
      const { tf } = await loadBackend('webgpu');
      const sum = await tf.add(tf.tensor([1, 2]), tf.tensor([3, 4])).data();
      if (sum[0] !== 4 || sum[1] !== 6) return { ok: false, message: `backend webgpu computed [1,2] + [3,4] = [${Array.from(sum)}], not [4,6]: the Vulkan driver is broken` };
      return { ok: true };
    } catch (e) {
      return { ok: false, message: e instanceof Error ? e.message : String(e) };
    }
  }
  if (job.kind === 'work-done') {
    const { tf } = await loadBackend('webgpu');
    const b = tf.backend() as unknown as { commandEncoder: unknown };
    const y = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));
    const before = b.commandEncoder !== null;
    await workDone(tf, 'webgpu', y);
    return { ok: true, pending: { before, after: b.commandEncoder !== null } };
  }
  try {
    const r = await smallRun(job.model, job.plan, { backend: 'webgpu', ...job.extra });
    const weights = r.weights && Object.fromEntries(Object.entries(r.weights).map(([l, ws]) => [l, Object.fromEntries(Object.entries(ws).map(([n, w]) => [n, { shape: w.shape, values: Array.from(w.values) }]))]));
    return { ok: true, losses: r.losses, weights, trace: r.trace, tensorsPerStep: r.tensorsPerStep };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e), trace: e instanceof PipelineError ? e.trace : undefined };
  }
}

// argv: the job as JSON, the file to write the result to. Without them (the test runner loading this file) it does nothing.
if (require.main === module && process.argv.length === 4) {
  const job = JSON.parse(process.argv[2]) as ChildJob;
  void runJob(job).then((r) => {
    fs.writeFileSync(process.argv[3], JSON.stringify(r));
    // The probe's (and work-done's) Dawn instance lives in this thread and keeps it alive; a run's live in its workers, which must end by themselves.
    if (job.kind !== 'run') process.exit(0);
  });
}
