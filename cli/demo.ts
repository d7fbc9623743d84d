// `pipeprof demo`: the built-in transformer on 2 stages, no arguments needed; writes a trace and prints a summary.
import type { Command } from 'commander';
import { CAPTURE_DEFAULTS } from '../core/config/capture-config';
import { DEFAULT_OPTIONS } from '../core/model/builtin';
import type { CaptureConfig } from '../core/config/capture-config';
import { capture } from '../core/io/capture';
import type { CliIO } from './io';
import { Progress } from './io';
import { phaseLine, printSummary, stepDetail } from './capture';
import { readTimeline } from '../core/io/read-trace';
import { buildReport } from '../core/analysis/report';
import { recommendForTrace } from '../core/recommend/for-trace';
import { formatReport } from './report';
import { planText } from '../core/config/apply-plan';

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
      const t = DEFAULT_OPTIONS.transformer;
      io.err(`pipeprof demo: training the built-in transformer (embedding, ${t.blocks} blocks, LM head over ${t.vocab} tokens) on 2 stage workers\n`);
      const progress = new Progress(io, 'demo');
      const { summary, result } = await capture(cfg, { onStep: (p) => progress.update(p.step + 1, p.total, stepDetail(p)), onPhase: phaseLine(io, 'demo') });
      printSummary(io, summary, result.losses);
      // What a user does next: read the report, then try the best plan the simulator finds.
      io.err(`demo: reading ${cfg.out} back and analysing it; then calibrating the timing model on it and ranking plans\n`);
      const timeline = await readTimeline(cfg.out);
      io.out(`\n${formatReport(buildReport(timeline), cfg.out)}\n`);
      const { plans } = recommendForTrace(timeline, cfg.out, { top: 1 });
      const best = plans[0];
      io.out(`recommended ${best.layout} · ${planText(best)}: ${best.predictedStepTimeMs.toFixed(1)} ms per step predicted, ${best.speedup.toFixed(2)}x the traced plan\n`);
      io.out(`next        pipeprof recommend ${cfg.out} --apply pipeprof.config.json   then   pipeprof capture pipeprof.config.json\n`);
    });
}
