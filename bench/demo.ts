// The README's demo: `pipeprof demo` as a user runs it, then its advice followed (recommend --apply, capture), both plans re-measured side by side.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readTimeline } from '../core/io/read-trace';
import { median } from '../core/analysis/utilization';
import { machine, save, args } from './common';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'pipeprof.js');
const rounds = Number(args.get('rounds') ?? 2);

function pipeprof(cwd: string, ...argv: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...argv], { cwd, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`pipeprof ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Median measured step time of a trace, ms. */
async function stepMs(file: string): Promise<number> {
  const t = await readTimeline(file);
  return median(t.steps.filter((s) => !s.warmup).map((s) => (s.endUs - s.startUs) / 1000));
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeprof-demo-'));
  try {
    // 1. What a user sees.
    const shown = pipeprof(dir, 'demo');
    const predicted = Number(/: ([\d.]+) ms per step predicted/.exec(shown)?.[1]);
    // 2. The advice followed: the recommended plan written into a config, then captured. The demo's own plan goes
    //    into a config of its own, so that both are re-measured alternately (the machine's drift lands on both).
    pipeprof(dir, 'recommend', 'demo.pptrace.json', '--apply', 'recommended.config.json');
    const demoPlan = { model: 'transformer', stages: 2, batch: 16, microbatches: 4, schedule: '1f1b', steps: 6, warmup: 2 };
    fs.writeFileSync(path.join(dir, 'demo.config.json'), JSON.stringify(demoPlan));
    const recommended = JSON.parse(fs.readFileSync(path.join(dir, 'recommended.config.json'), 'utf8')) as Record<string, unknown>;
    const times: Record<'demo' | 'recommended', number[]> = { demo: [], recommended: [] };
    for (let r = 0; r < rounds; r++)
      for (const which of r % 2 ? (['recommended', 'demo'] as const) : (['demo', 'recommended'] as const)) {
        const out = `${which}-${r}.pptrace.json`;
        pipeprof(dir, 'capture', `${which}.config.json`, '--steps', '6', '--warmup', '2', '--out', out);
        times[which].push(await stepMs(path.join(dir, out)));
      }
    const demoMs = median(times.demo);
    const recMs = median(times.recommended);
    const lines = shown.trimEnd();
    const summary =
      `Following the last line (\`recommend --apply\`, then \`capture\`), both plans captured ${rounds} times alternately: ` +
      `the recommended plan measured ${recMs.toFixed(0)} ms per step (predicted ${predicted.toFixed(0)} ms) against the demo plan's ${demoMs.toFixed(0)} ms, ` +
      `${(demoMs / recMs).toFixed(2)}x (${machine().cpus} cores, wasm).`;
    console.log(lines);
    console.log(`\n${summary}`);
    save('demo', { machine: machine(), rounds, predictedMs: predicted, demoMs: times.demo, recommendedMs: times.recommended, recommendedConfig: recommended }, `\`\`\`\n${lines}\n\`\`\`\n\n${summary}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
