// The webgpu tests' environment: whether Dawn works here (in CI it must), and jobs run in a child with stderr kept apart.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { ChildJob, ChildResult } from './webgpu-child';
import { tmpdir } from '../helpers';

/** In CI (.ci/run exports PIPEPROF_REQUIRE_WEBGPU=1) the webgpu tests must run: a missing driver fails them. */
export const REQUIRE_WEBGPU = process.env.CI === 'true' || process.env.PIPEPROF_REQUIRE_WEBGPU === '1';

/** Dawn's own log lines on lavapipe (its descriptor limits clamped): native writes to stderr, expected, not ours. */
export const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** Lines of a child's stderr that are neither empty nor Dawn's known noise. */
export const strayLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() && !DAWN_NOISE.test(l));

/** Dawn reads XDG_RUNTIME_DIR; children get a private one when it is unset. */
export function childEnv(): NodeJS.ProcessEnv {
  if (process.env.XDG_RUNTIME_DIR) return process.env;
  const dir = tmpdir('pipeprof-xdg-');
  fs.chmodSync(dir, 0o700);
  return { ...process.env, XDG_RUNTIME_DIR: dir };
}

/** Runs node with `args` (limit: `timeoutMs`); `exited` is false when it had to be killed (something kept it alive). */
export function runNode(args: string[], timeoutMs: number): Promise<{ code: number | null; stderr: string; stdout: string; exited: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let exited = true;
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const timer = setTimeout(() => {
      exited = false;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout, exited });
    });
  });
}

/** Runs a job in a child process; `stderr` is what it printed besides Dawn's known noise. */
export async function inChild(job: ChildJob, timeoutMs = 300_000): Promise<{ result: ChildResult; stray: string[]; exited: boolean }> {
  const out = path.join(tmpdir('pipeprof-webgpu-'), 'result.json');
  const r = await runNode([path.join(__dirname, 'webgpu-child.js'), JSON.stringify(job), out], timeoutMs);
  const stray = strayLines(r.stderr);
  if (!fs.existsSync(out)) throw new Error(`the webgpu child wrote no result (exit code ${r.code}${r.exited ? '' : ', killed after ' + timeoutMs + ' ms'}): ${stray.join(' | ') || 'no output'}`);
  return { result: JSON.parse(fs.readFileSync(out, 'utf8')) as ChildResult, stray, exited: r.exited };
}

let cause: Promise<string | null> | null = null;
/** Null when Dawn starts and computes here; else the cause in one line (Dawn's own reason appended when it gave one). */
export function webgpuCause(): Promise<string | null> {
  cause ??= inChild({ kind: 'probe' }, 120_000).then(
    ({ result, stray }) => {
      if (result.ok) return null;
      const said = stray.filter((l) => !/^\s+at /.test(l)).slice(0, 3);
      return `${result.message}${said.length ? ` (Dawn: ${said.join(' | ')})` : ''}`;
    },
    (e: Error) => e.message,
  );
  return cause;
}

/** True when the webgpu tests can run; else fails the test in CI, or skips it with the cause. */
export async function webgpuReady(t: TestContext): Promise<boolean> {
  const why = await webgpuCause();
  if (!why) return true;
  if (REQUIRE_WEBGPU) throw new Error(`webgpu is required here (CI or PIPEPROF_REQUIRE_WEBGPU=1) but does not work: ${why}`);
  t.skip(`webgpu unavailable: ${why}`);
  return false;
}
