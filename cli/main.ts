// The pipeprof program: `run(argv)` for tests, `main()` owning printed errors and exit codes.
import { Command, CommanderError } from 'commander';
import { UsageError } from '../core/config/errors';
import { PipelineError } from '../core/runtime/executor';
import type { CliIO } from './io';
import { processIO, safeIO } from './io';
import { registerCapture } from './capture';
import { registerDemo } from './demo';
import { registerDiff } from './diff';
import { registerReport } from './report';
import { registerRecommend } from './recommend';
import { registerSimulate } from './simulate';
import { registerImport } from './import';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export function buildProgram(io: CliIO): Command {
  const program = new Command('pipeprof')
    .description('profile and plan pipeline-parallel training')
    .version(require('../../package.json').version)
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureHelp({ sortOptions: false });
  registerCapture(program, io);
  registerDemo(program, io);
  registerReport(program, io);
  registerSimulate(program, io);
  registerRecommend(program, io);
  registerImport(program, io);
  registerDiff(program, io);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  return program;
}

/** Runs the CLI with `argv` (no node/script prefix) and returns the exit code; never exits the process. */
export async function run(argv: string[], rawIO: CliIO = processIO): Promise<number> {
  // Whatever a command prints passes here: no control character from a file reaches the terminal.
  const io = safeIO(rawIO);
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // `commander.help` with a non-zero code is the usage printed for a missing command (`pipeprof` alone): bad input.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || (e.code === 'commander.help' && e.exitCode === 0)) return EXIT.ok;
      return EXIT.usage;
    }
    if (e instanceof UsageError) {
      for (const p of e.problems) io.err(`pipeprof: ${p}\n`);
      return EXIT.usage;
    }
    if (e instanceof PipelineError) {
      io.err(`pipeprof: run failed: ${e.message}\n`);
      const steps = e.trace.pipeprof.steps.length;
      const where = e.tracePath ? ` to ${e.tracePath}` : '';
      io.err(steps ? `pipeprof: the trace of the ${steps} step(s) before the failure is written${where}, marked "failed"; fix the cause and capture again\n` : `pipeprof: no step completed; the trace file${where ? ` (${e.tracePath})` : ''} records only the failure\n`);
      return EXIT.failed;
    }
    io.err(`pipeprof: ${(e as Error).message ?? String(e)}\n`);
    return EXIT.failed;
  }
}

export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2));
}
