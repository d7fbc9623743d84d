// Where the CLI writes: injectable so tests run commands in-process and read what they printed; reading inputs with their warnings and progress.
import type { Timeline } from '../core/trace/timeline';
import { readRun } from '../core/io/read-trace';
import { terminalSafe } from '../core/io/printable';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal (progress bars redraw in place). */
  errIsTTY: boolean;
}

export const processIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  errIsTTY: !!process.stderr.isTTY,
};

/** `io` with every control character escaped (core/io/printable.ts), but the progress bar's own redraw (\r … ESC[K). */
export function safeIO(io: CliIO): CliIO {
  const err = (t: string) => {
    const redraw = /^\r([^]*)\x1b\[K(\n?)$/.exec(t);
    return redraw ? `\r${terminalSafe(redraw[1])}\x1b[K${redraw[2]}` : terminalSafe(t);
  };
  return { out: (t) => io.out(terminalSafe(t)), err: (t) => io.err(err(t)), errIsTTY: io.errIsTTY };
}

/** A progress bar on stderr: redrawn in place on a terminal, one line per update otherwise. */
export class Progress {
  constructor(private readonly io: CliIO, private readonly label: string) {}
  update(done: number, total: number, detail: string): void {
    const width = 24;
    const filled = Math.round((done / total) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `${this.label} [${bar}] ${done}/${total} ${detail}`;
    if (this.io.errIsTTY) this.io.err(`\r${line}\x1b[K${done === total ? '\n' : ''}`);
    else this.io.err(`${line}\n`);
  }
}

/** A share as a percentage with one decimal; '–' when unknown. */
export const pct = (x: number | null): string => (x === null || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(1)}%`);

/** A text table: columns padded (right-aligned where `right` says), a rule under the headers. */
export function table(headers: string[], rows: string[][], right: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** MiB with one decimal. */
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/**
 * Reads a run (a pipeprof trace, or PyTorch profiler rank files or their folder), printing each import warning on stderr
 * as `pipeprof: warning: …` and a progress bar while big inputs stream (on a terminal: redrawn at most 10 times a
 * second; otherwise one line per quarter, and only for inputs over 64 MiB).
 */
export async function readInputs(io: CliIO, inputs: string | readonly string[], opts: { quiet?: boolean; label?: string } = {}): Promise<Timeline> {
  const progress = new Progress(io, opts.label ?? 'read');
  let last = 0;
  let quarter = 0;
  /** The bar's last line is printed once, however many times the reader reports the whole file read. */
  let ended = false;
  const onProgress = opts.quiet
    ? undefined
    : (read: number, total: number) => {
        if (total <= 0 || ended) return;
        if (read >= total) ended = true;
        const now = Date.now();
        if (io.errIsTTY) {
          if (read < total && now - last < 100) return;
          last = now;
        } else {
          if (total < 64 * 2 ** 20) return;
          const q = Math.floor((4 * read) / total);
          if (q <= quarter && read < total) return;
          quarter = q;
        }
        progress.update(Math.round((1000 * read) / total), 1000, `${mib(read)} of ${mib(total)}`);
      };
  const { timeline, warnings } = await readRun(inputs, { onProgress });
  for (const w of warnings) io.err(`pipeprof: warning: ${w}\n`);
  return timeline;
}
