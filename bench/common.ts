// Benchmark helpers: a table printer and a JSON writer under bench/results/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';

export const RESULTS = path.resolve(__dirname, '..', '..', 'bench', 'results');

/** Bench flags, as `--name=value` or `--name value`. */
export const args = parseArgs(process.argv.slice(2));

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error(`bench: ${argv[i]} is not a flag; write --name=value or --name value`);
    const eq = argv[i].indexOf('=');
    if (eq > 0) out.set(argv[i].slice(2, eq), argv[i].slice(eq + 1));
    else out.set(argv[i].slice(2), argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : 'true');
  }
  return out;
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(cells[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

export function machine(): { cpus: number; cpuModel: string; node: string; date: string } {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, date: new Date().toISOString() };
}

/** Writes `<name>.json` (data) and `<name>.md` (the table, for the README) under bench/results/. */
export function save(name: string, data: unknown, markdown: string): void {
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, `${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
  fs.writeFileSync(path.join(RESULTS, `${name}.md`), `${markdown}\n`);
}
