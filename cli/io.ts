// Where the CLI writes: injectable so tests run commands in-process and read what they printed.
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
