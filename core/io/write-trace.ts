// Writes a Timeline (a predicted run, usually) as a .pptrace.json that opens like a captured one; the conversion is core/trace/export.ts.
import type { Timeline } from '../trace/timeline';
import type { TraceFile } from '../trace/schema';
import { timelineToTrace } from '../trace/export';
import { writeFileAtomic } from './atomic';

export { timelineToTrace };

/** Converts and writes atomically; returns the trace object written. */
export async function writeTimeline(file: string, t: Timeline): Promise<TraceFile> {
  const trace = timelineToTrace(t);
  await writeFileAtomic(file, JSON.stringify(trace));
  return trace;
}
