// Test helpers: run the CLI in-process and capture what it prints; temporary folders.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../cli/main';

export async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false });
  return { code, out, err };
}

export function tmpdir(prefix = 'pipeprof-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Root of the repository (tests run from dist/test/...). */
export const ROOT = path.resolve(__dirname, '..', '..');
