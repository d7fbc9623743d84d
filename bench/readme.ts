// Copies benchmark tables from bench/results/<name>.md into README.md and bench/README.md, between <!-- bench:<name> --> markers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RESULTS } from './common';

/** The files whose marked blocks hold benchmark tables: the top-level README (Hardening) and bench/README.md (the rest). */
const FILES = [path.resolve(__dirname, '..', '..', 'README.md'), path.resolve(__dirname, '..', '..', 'bench', 'README.md')];

/** `text` with every `<!-- bench:name -->` block replaced by bench/results/name.md (kept when that file is missing). */
export function fillBlocks(text: string, results = RESULTS, warn: (m: string) => void = (m) => process.stderr.write(m)): string {
  return text.replace(/<!-- bench:([\w-]+) -->[\s\S]*?<!-- \/bench:\1 -->/g, (whole, name: string) => {
    const f = path.join(results, `${name}.md`);
    if (!fs.existsSync(f)) {
      warn(`no results for ${name} (run its benchmark first); kept the table\n`);
      return whole;
    }
    return `<!-- bench:${name} -->\n${fs.readFileSync(f, 'utf8').trim()}\n<!-- /bench:${name} -->`;
  });
}

if (require.main === module) {
  for (const file of FILES) {
    fs.writeFileSync(file, fillBlocks(fs.readFileSync(file, 'utf8')));
    console.log(`updated ${file}`);
  }
}
