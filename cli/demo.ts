// `pipeprof demo`: the built-in transformer on 2 stages, no arguments needed; writes a trace and prints a summary.
import type { Command } from 'commander';
import { CAPTURE_DEFAULTS } from '../core/config/capture-config';
import type { CaptureConfig } from '../core/config/capture-config';
import { capture } from '../core/io/capture';
import type { CliIO } from './io';
import { Progress } from './io';
import { printSummary } from './capture';

export const DEMO_CONFIG: CaptureConfig = {
  ...CAPTURE_DEFAULTS,
  model: 'transformer',
  stages: 2,
  batch: 16,
  microbatches: 4,
  schedule: '1f1b',
  steps: 6,
  warmup: 2,
  out: 'demo.pptrace.json',
};

export function registerDemo(program: Command, io: CliIO): void {
  program
    .command('demo')
    .description('train the built-in transformer on 2 stages, write demo.pptrace.json and summarize it')
    .option('--out <file>', `trace file to write (default: "${DEMO_CONFIG.out}")`)
    .option('--steps <T>', `measured steps (default: ${DEMO_CONFIG.steps})`)
    .action(async (flags: { out?: string; steps?: string }) => {
      const cfg = { ...DEMO_CONFIG, out: flags.out ?? DEMO_CONFIG.out, steps: flags.steps ? Math.max(1, Math.floor(Number(flags.steps)) || DEMO_CONFIG.steps) : DEMO_CONFIG.steps };
      io.err(`pipeprof demo: training the built-in transformer (${'embedding, 6 blocks, LM head over 8192 tokens'}) on 2 stage workers\n`);
      const progress = new Progress(io, 'demo');
      const { summary, result } = await capture(cfg, { onStep: (p) => progress.update(p.step + 1, p.total, `${p.stepMs.toFixed(0)} ms  loss ${p.loss.toFixed(4)}`) });
      printSummary(io, summary, result.losses);
    });
}
