// Memory: each stage's peak bytes in use, from the memory counters the stage workers record after every op.
import type { Timeline } from '../trace/timeline';

export interface StageMemory {
  stage: number;
  /** Highest sample over the whole run (warm-up included: a peak there fails a run just the same); null without counters. */
  peakBytes: number | null;
  /** When the peak was sampled, µs from the run start, and in which step (null when outside every step). */
  peakAtUs: number | null;
  peakStep: number | null;
  /** The first sample: roughly weights, optimizer state and the backend's own buffers. */
  firstBytes: number | null;
  samples: number;
}

export function peakMemory(t: Timeline): StageMemory[] {
  const out: StageMemory[] = Array.from({ length: t.stages }, (_, stage) => ({ stage, peakBytes: null, peakAtUs: null, peakStep: null, firstBytes: null, samples: 0 }));
  for (const m of t.memory) {
    const s = out[m.stage];
    if (!s) continue;
    s.samples++;
    if (s.firstBytes === null) s.firstBytes = m.bytes;
    if (s.peakBytes === null || m.bytes > s.peakBytes) {
      s.peakBytes = m.bytes;
      s.peakAtUs = m.ts;
    }
  }
  for (const s of out) {
    if (s.peakAtUs === null) continue;
    const at = s.peakAtUs;
    s.peakStep = t.steps.find((st) => at >= st.startUs && at <= st.endUs)?.step ?? null;
  }
  return out;
}
