// `pipeprof demo`: the built-in transformer on 2 stages, no arguments needed; writes a trace and prints a summary.
import type { Command } from 'commander';
import { CAPTURE_DEFAULTS, checkFields } from '../core/config/capture-config';
import { UsageError } from '../core/config/errors';
import { DEFAULT_OPTIONS } from '../core/model/builtin';
import type { CaptureConfig } from '../core/config/capture-config';
import { capture } from '../core/io/capture';
import type { CliIO } from './io';
import { Progress } from './io';
import { flagsToConfig, phaseLine, printSummary, stepDetail } from './capture';
import { readTimeline } from '../core/io/read-trace';
import { buildReport } from '../core/analysis/report';
import { recommendForTrace } from '../core/recommend/for-trace';
import { predictionText } from '../core/simulate/uncertainty';
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
    .option('--steps <T>', `measured steps, at least 2 (the recommendation's interval needs their spread) (default: ${DEMO_CONFIG.steps})`)
    .action(async (flags: { out?: string; steps?: string }) => {
      const fromFlags = flagsToConfig({ out: flags.out, steps: flags.steps });
      const problems = checkFields(fromFlags as Record<string, unknown>, (f) => `--${f}`);
      if (problems.length) throw new UsageError(problems);
      const cfg = { ...DEMO_CONFIG, ...fromFlags };
      if (cfg.steps < 2) throw new UsageError([`--steps must be at least 2 for the demo, whose recommendation's interval comes from the steps' spread (got ${cfg.steps}); use --steps 2 or more`]);
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
      const predicted = `${predictionText({ ms: best.predictedStepTimeMs, relative: best.intervalRelative })} per step predicted`;
      io.out(best.faster
        ? `recommended ${best.layout} · ${planText(best)}: ${predicted}, ${best.speedup.toFixed(2)}x the traced plan\n`
        : `recommended keep the traced plan: the best other, ${best.layout} · ${planText(best)}, ${predicted}, is within noise of it (${best.speedup.toFixed(2)}x); pipeprof recommend --verify 3 measures them side by side\n`);
      io.out(`next        pipeprof recommend ${cfg.out} --apply pipeprof.config.json   then   pipeprof capture pipeprof.config.json\n`);
    });
}
