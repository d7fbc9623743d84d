// The README's hardening table: what was tried (from the fuzz, long-run and big-trace results and the fault tests) and what held.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RESULTS, save, table } from './common';

const read = (name: string): Record<string, unknown> | null => {
  const f = path.join(RESULTS, `${name}.json`);
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>) : null;
};

function main(): void {
  const fuzz = read('fuzz') as { cases: number; failures: string[]; runsPerMutation: number } | null;
  const long = read('long-run') as { results: { case: string; steps: number; tensorsFirst: number; tensorsLast: number; tensorSlopePer1000: number }[] } | null;
  const hostile = read('hostile') as { summary: string; rows: unknown[] } | null;
  const big = read('big-trace') as { file: { bytes: number; events: number }; results: { command: string; exit: number; seconds: number; peakRssBytes: number; peakOverFile: number }[] } | null;
  const rows: string[][] = [
    [
      'mutated traces: truncated, bit-flipped, fields removed or retyped, huge numbers, deep nesting, wrong encodings (pipeprof and PyTorch traces; report, diff, recommend, import)',
      fuzz ? `${fuzz.cases.toLocaleString('en')} cases (bench:fuzz) + the test's share` : 'bench:fuzz not run',
      fuzz ? (fuzz.failures.length ? `${fuzz.failures.length} failures` : 'every case: exit 0 or exactly one `pipeprof:` line, exit 2, no stack trace, under 20 s') : '–',
    ],
    ['random configuration fields and simulate flags (fast-check)', 'test/fuzz/inputs.test.ts: 240 configs, 48 flag sets per run', 'one line per problem, naming the field or flag; nothing else thrown'],
    ['stage or replica worker: throw, exit, hang, out of memory × forward, backward, all-reduce, optimizer', '16 runs (test/runtime/fault-matrix.test.ts) + 3 through the extension\'s Profile Training', 'stopped within 20 s; the error names stage, replica and op (a hang: where each late worker waits); the partial trace reads back; no thread left; the config untouched'],
    ['a failed run where an earlier trace has the same name', 'test/cli/capture.test.ts', 'the earlier trace kept; the partial one written beside it (`.failed.pptrace.json`)'],
    ['SIGKILL of the CLI while it writes a trace or applies a recommendation', '14 kill times × 2 commands (test/cli/atomic-kill.test.ts)', 'every file is the old one or a complete new one'],
    [
      '1,000-step runs',
      long ? long.results.map((r) => `${r.case}: tensors ${r.tensorsFirst} → ${r.tensorsLast}`).join('; ') : 'bench:long-run not run',
      long ? (long.results.every((r) => r.tensorsFirst === r.tensorsLast) ? 'live tensors flat in every worker (no leak)' : 'tensor counts moved: see the long-run table') : '–',
    ],
    [
      'a big pipeprof trace through the CLI',
      big ? `${(big.file.bytes / 1e9).toFixed(2)} GB, ${big.file.events.toLocaleString('en')} events` : 'bench:big-trace not run',
      big ? big.results.map((r) => `${r.command}: ${r.exit === 0 ? `ok in ${r.seconds.toFixed(0)} s, peak ${(r.peakRssBytes / 2 ** 30).toFixed(2)} GiB (${r.peakOverFile.toFixed(2)}× the file)` : `exit ${r.exit}`}`).join('; ') : '–',
    ],
    [
      'hostile input: device files, symlinks and modes as outputs, escape sequences in traces, gzip bombs, absurd sizes and numbers, an output that is an input, signals, abusive configs',
      hostile ? `${hostile.rows.length} cases (bench:hostile; test/cli/hostile.test.ts)` : 'bench:hostile not run',
      hostile ? `${hostile.summary}; nothing the user owns replaced, no control character from a file on the terminal` : '–',
    ],
    ['webview: inline script without the nonce, wrong nonce, inline handler, remote script, style, image, frame and fetch (Chromium)', 'test/media/csp.test.ts', 'none ran or loaded; the remote server got no request; each blocked load reported as a CSP violation; trace strings are text'],
  ];
  const md = table(['inputs tried / faults injected', 'how many', 'what held'], rows);
  console.log(md);
  save('hardening', { fuzz: fuzz ? { cases: fuzz.cases, failures: fuzz.failures.length } : null }, md);
}

main();
