// Copies benchmark tables from bench/results/<name>.md into the README between <!-- bench:<name> --> markers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RESULTS } from './common';

const readme = path.resolve(__dirname, '..', '..', 'README.md');
let text = fs.readFileSync(readme, 'utf8');
text = text.replace(/<!-- bench:([\w-]+) -->[\s\S]*?<!-- \/bench:\1 -->/g, (whole, name: string) => {
  const f = path.join(RESULTS, `${name}.md`);
  if (!fs.existsSync(f)) {
    process.stderr.write(`no results for ${name} (run its benchmark first); kept the README's table\n`);
    return whole;
  }
  return `<!-- bench:${name} -->\n${fs.readFileSync(f, 'utf8').trim()}\n<!-- /bench:${name} -->`;
});
fs.writeFileSync(readme, text);
console.log(`updated ${readme}`);
