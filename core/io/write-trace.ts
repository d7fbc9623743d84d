// Writes a Timeline (a predicted run, usually) as a .pptrace.json that opens like a captured one; the conversion is core/trace/export.ts.
import type { Timeline } from '../trace/timeline';
import type { TraceFile } from '../trace/schema';
import { timelineToTrace } from '../trace/export';
import { writeOrKeep } from './outputs';

export { timelineToTrace };

/** Converts and writes atomically (kept in the temporary folder, and said so, when the write fails); returns the trace object written. */
export async function writeTimeline(file: string, t: Timeline, flag = '--out'): Promise<TraceFile> {
  const trace = timelineToTrace(t);
  await writeOrKeep(flag, file, JSON.stringify(trace));
  return trace;
}
