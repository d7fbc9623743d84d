// A real captured trace for the extension's tests: a small pipeline run, cached, also written to a file (plain and gzipped).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { TraceFile } from '../../core/trace/schema';
import { smallRun } from '../runtime/run';
import { tmpdir } from '../helpers';

let cached: Promise<TraceFile> | null = null;

/** mlp 4 layers on 2 stages, 4 micro-batches, gpipe, batch 16: 1 warm-up step and 3 measured, with the cost probe. */
export function realTrace(): Promise<TraceFile> {
  cached ??= smallRun('mlp', { balance: [2, 2], microbatches: 4, schedule: 'gpipe' }, { steps: 3, warmup: 1, batch: 16 }).then((r) => r.trace);
  return cached;
}

/** The trace written to `<tmp>/<name>` (gzipped when the name ends in .gz); returns the path. */
export async function traceFile(name = 'run.pptrace.json', dir = tmpdir('pipeprof-ext-')): Promise<string> {
  const text = JSON.stringify(await realTrace());
  const file = path.join(dir, name);
  fs.writeFileSync(file, name.endsWith('.gz') ? zlib.gzipSync(text) : text);
  return file;
}
