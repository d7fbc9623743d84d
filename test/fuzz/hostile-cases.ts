// Hostile and careless input, one case per row (issue 16's list): each prepares its files, names the CLI call and what must hold after it.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

/** What a case gets: its own folder, and a small real trace captured once for all cases. */
export interface Ctx {
  dir: string;
  /** A pipeprof trace of a real capture (read-only to the cases: each copies it when it changes it). */
  trace: string;
  /** A real PyTorch profiler rank file (gzip). */
  kineto: string;
}

export interface Outcome {
  code: number;
  out: string;
  err: string;
}

export interface HostileCase {
  /** The item (1–9). */
  item: number;
  name: string;
  /** Prepares files; returns the CLI's arguments, or a skip reason (e.g. mount not allowed). */
  setup(c: Ctx): Promise<string[] | { skip: string }>;
  /** The exit code that is clean here (0: it works; 2: one `pipeprof:` line per problem). */
  code: 0 | 1 | 2;
  /** After the run: null when it held, else what went wrong. */
  check?(c: Ctx, r: Outcome): string | null | Promise<string | null>;
  /** Also a child process with this much V8 heap (MiB): a memory bound that is the point of the case. */
  heapMiB?: number;
  /** Run in a child process only (it needs its own process: a signal). */
  child?: boolean;
}

const ESC = '\u001b[2J\u001b]0;evil\u0007';
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** The invariants every case keeps: a clean exit, every error line prefixed, no stack, no control character from a file. */
export function checkOutcome(k: HostileCase, r: Outcome): string | null {
  if (r.code !== k.code) return `exit ${r.code}, expected ${k.code}: ${r.err.trim().split('\n')[0] ?? ''}`;
  if (CONTROL.test(r.out) || CONTROL.test(r.err)) return `a control character reached the terminal: ${JSON.stringify((r.out + r.err).match(CONTROL)?.[0])}`;
  const lines = r.err.split('\n').filter((l) => l !== '');
  if (r.code !== 0 && !lines.length) return `exit ${r.code} without a message`;
  const bad = lines.find((l) => !l.startsWith('pipeprof: '));
  if (bad) return `a line without the pipeprof: prefix: ${bad.slice(0, 200)}`;
  if (/\n\s+at |TypeError|ReferenceError|RangeError|Maximum call stack|Cannot read prop|internal:/.test(r.err)) return `internal error leaked: ${lines[0]}`;
  return null;
}

const read = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, any>;
/** A copy of the trace with `edit` applied, written into the case's folder. */
function mutated(c: Ctx, name: string, edit: (t: Record<string, any>) => void): string {
  const t = read(c.trace);
  edit(t);
  const f = path.join(c.dir, name);
  fs.writeFileSync(f, JSON.stringify(t));
  return f;
}
const firstX = (t: Record<string, any>) => t.traceEvents.find((e: { ph: string; args?: { op?: string } }) => e.ph === 'X' && e.args?.op);

/** Writes a gzip file inflating to `bytes` of `head` then `fill` repeated then `tail`, streaming (the test never holds it). */
async function gzipBomb(file: string, head: string, fill: string, bytes: number, tail = ''): Promise<string> {
  const chunk = Buffer.from(fill.repeat(Math.ceil((1 << 20) / fill.length)));
  let left = bytes;
  async function* gen() {
    yield Buffer.from(head);
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      yield chunk.subarray(0, n);
    }
    yield Buffer.from(tail);
  }
  await pipeline(Readable.from(gen()), zlib.createGzip({ level: 1 }), fs.createWriteStream(file));
  return file;
}

/** Mounts a tmpfs (read-only or of `size`) at a new folder; a skip reason where mounting is not allowed (not root, or a container without CAP_SYS_ADMIN). */
export function mountTmpfs(dir: string, opts: string): string | { skip: string } {
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return { skip: `cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()}); needs root with CAP_SYS_ADMIN` };
  mounts.push(dir);
  return dir;
}
/** Folders mounted by cases, unmounted by `cleanup`. */
export const mounts: string[] = [];
export function cleanup(): void {
  for (const m of mounts.splice(0)) spawnSync('umount', ['-l', m]);
}

const isRoot = () => process.getuid?.() === 0;
const cfgFile = (c: Ctx, name: string, text: string | Buffer) => {
  const f = path.join(c.dir, name);
  fs.writeFileSync(f, text);
  return f;
};
/** A small capture config: its run is refused before training in every case using it, so no case trains. */
/** A capture small enough to run in seconds (the trace every case reads is one). */
export const SMALL_CONFIG = { model: { name: 'mlp', width: 32, depth: 4 }, stages: 2, batch: 8, microbatches: 2, steps: 2, warmup: 1 };
const SMALL = JSON.stringify(SMALL_CONFIG);
const has = (s: string, re: RegExp) => (re.test(s) ? null : `expected ${re} in: ${s.slice(0, 300)}`);
const statOf = (f: string) => fs.lstatSync(f);

export const CASES: HostileCase[] = [
  // 1. Outputs never replace what is not a regular file; writes go through symlinks and keep mode and owner.
  {
    item: 1, name: 'report --html onto a character device (mknod c 1 3) in a user folder', code: 0,
    async setup(c) {
      if (!isRoot()) return { skip: 'mknod needs root (CI runs as root)' };
      const dev = path.join(c.dir, 'null');
      spawnSync('mknod', [dev, 'c', '1', '3']);
      return ['report', c.trace, '--html', dev];
    },
    check: (c) => (statOf(path.join(c.dir, 'null')).isCharacterDevice() ? null : 'the device was replaced by a file'),
  },
  {
    item: 1, name: 'simulate --out /dev/null', code: 0,
    setup: async (c) => ['simulate', c.trace, '--out', '/dev/null'],
    check: () => (statOf('/dev/null').isCharacterDevice() ? null : '/dev/null was replaced'),
  },
  {
    item: 1, name: 'simulate --out a FIFO with a reader: streamed into it, still a FIFO', code: 0,
    async setup(c) {
      const fifo = path.join(c.dir, 'fifo');
      spawnSync('mkfifo', [fifo]);
      const got = path.join(c.dir, 'from-fifo.json');
      const { spawn } = await import('node:child_process');
      spawn('sh', ['-c', `cat "${fifo}" > "${got}"`], { stdio: 'ignore', detached: false });
      return ['simulate', c.trace, '--out', fifo];
    },
    async check(c) {
      if (!statOf(path.join(c.dir, 'fifo')).isFIFO()) return 'the FIFO was replaced';
      for (let i = 0; i < 100 && !(fs.existsSync(path.join(c.dir, 'from-fifo.json')) && fs.statSync(path.join(c.dir, 'from-fifo.json')).size > 0); i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 100));
      try {
        return read(path.join(c.dir, 'from-fifo.json')).pipeprof.source === 'predicted' ? null : 'the reader got no predicted trace';
      } catch (e) {
        return `the reader got no JSON: ${(e as Error).message}`;
      }
    },
  },
  {
    item: 1, name: 'simulate --out a block device: refused, not replaced', code: 2,
    async setup(c) {
      if (!isRoot()) return { skip: 'mknod needs root (CI runs as root)' };
      spawnSync('mknod', [path.join(c.dir, 'blk'), 'b', '7', '200']);
      return ['simulate', c.trace, '--out', path.join(c.dir, 'blk')];
    },
    check: (c, r) => (statOf(path.join(c.dir, 'blk')).isBlockDevice() ? has(r.err, /is a block device/) : 'the block device was replaced'),
  },
  {
    item: 1, name: 'simulate --out a unix socket: refused', code: 2,
    async setup(c) {
      const sock = path.join(c.dir, 'sock');
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(sock, () => r()));
      server.unref();
      return ['simulate', c.trace, '--out', sock];
    },
    check: (c, r) => (statOf(path.join(c.dir, 'sock')).isSocket() ? has(r.err, /is a socket/) : 'the socket was replaced'),
  },
  {
    item: 1, name: 'simulate --out a folder: refused before work', code: 2,
    setup: async (c) => ['simulate', c.trace, '--out', c.dir],
    check: (c, r) => has(r.err, /is a folder/),
  },
  {
    item: 1, name: 'recommend --apply onto a symlink: the link stays, its target is updated', code: 0,
    async setup(c) {
      fs.writeFileSync(path.join(c.dir, 'real.json'), '{\n  // mine\n  "model": "mlp"\n}\n');
      fs.symlinkSync('real.json', path.join(c.dir, 'link.json'));
      return ['recommend', c.trace, '--apply', path.join(c.dir, 'link.json'), '--top', '1'];
    },
    check: (c) =>
      !statOf(path.join(c.dir, 'link.json')).isSymbolicLink() ? 'the symlink was replaced by a file'
      : !fs.readFileSync(path.join(c.dir, 'real.json'), 'utf8').includes('"balance"') ? 'the target was not updated'
      : null,
  },
  {
    item: 1, name: 'recommend --apply onto a mode-600 config: still 600', code: 0,
    async setup(c) {
      const f = cfgFile(c, 'private.json', '{"model": "mlp"}\n');
      fs.chmodSync(f, 0o600);
      return ['recommend', c.trace, '--apply', f, '--top', '1'];
    },
    check: (c) => ((statOf(path.join(c.dir, 'private.json')).mode & 0o777) === 0o600 ? null : `mode became ${(statOf(path.join(c.dir, 'private.json')).mode & 0o777).toString(8)}`),
  },
  {
    item: 1, name: 'simulate --out onto a file of another owner, mode 640: owner and mode kept', code: 0,
    async setup(c) {
      if (!isRoot()) return { skip: 'chown needs root (CI runs as root)' };
      const f = cfgFile(c, 'theirs.json', '{}');
      fs.chmodSync(f, 0o640);
      fs.chownSync(f, 1234, 1234);
      return ['simulate', c.trace, '--out', f];
    },
    check(c) {
      const st = statOf(path.join(c.dir, 'theirs.json'));
      return (st.mode & 0o777) === 0o640 && st.uid === 1234 && st.gid === 1234 ? null : `mode ${(st.mode & 0o777).toString(8)} owner ${st.uid}:${st.gid}`;
    },
  },
  {
    item: 1, name: 'simulate --out onto a symlink to a file in another folder: written through', code: 0,
    async setup(c) {
      fs.mkdirSync(path.join(c.dir, 'elsewhere'));
      fs.writeFileSync(path.join(c.dir, 'elsewhere', 'p.json'), '{}');
      fs.symlinkSync(path.join(c.dir, 'elsewhere', 'p.json'), path.join(c.dir, 'p-link.json'));
      return ['simulate', c.trace, '--out', path.join(c.dir, 'p-link.json')];
    },
    check: (c) => (statOf(path.join(c.dir, 'p-link.json')).isSymbolicLink() && read(path.join(c.dir, 'elsewhere', 'p.json')).pipeprof ? null : 'link replaced or target not written'),
  },
  {
    item: 1, name: 'simulate --out onto a dangling symlink: its target created, the link kept', code: 0,
    async setup(c) {
      fs.symlinkSync('made.json', path.join(c.dir, 'dangling.json'));
      return ['simulate', c.trace, '--out', path.join(c.dir, 'dangling.json')];
    },
    check: (c) => (statOf(path.join(c.dir, 'dangling.json')).isSymbolicLink() && fs.existsSync(path.join(c.dir, 'made.json')) ? null : 'link replaced or target not created'),
  },
  {
    item: 1, name: 'simulate --out onto a symlink loop: refused', code: 2,
    async setup(c) {
      fs.symlinkSync('loop-b', path.join(c.dir, 'loop-a'));
      fs.symlinkSync('loop-a', path.join(c.dir, 'loop-b'));
      return ['simulate', c.trace, '--out', path.join(c.dir, 'loop-a')];
    },
  },
  {
    item: 1, name: 'simulate --out into a folder through a symlinked folder', code: 0,
    async setup(c) {
      fs.mkdirSync(path.join(c.dir, 'realdir'));
      fs.symlinkSync(path.join(c.dir, 'realdir'), path.join(c.dir, 'linkdir'));
      return ['simulate', c.trace, '--out', path.join(c.dir, 'linkdir', 'x.json')];
    },
    check: (c) => (fs.existsSync(path.join(c.dir, 'realdir', 'x.json')) ? null : 'not written'),
  },

  // 2. Strings from files are printable on a terminal; the plan's enumerations are checked on read.
  ...(['report', 'simulate', 'recommend', 'diff'] as const).map((cmd): HostileCase => ({
    item: 2, name: `${cmd}: escape sequences in model.name and backend`, code: 0,
    async setup(c) {
      const f = mutated(c, `esc-${cmd}.json`, (t) => {
        t.pipeprof.model.name = `m${ESC}`;
        t.pipeprof.backend = `wasm${ESC}`;
      });
      return cmd === 'diff' ? ['diff', c.trace, f] : cmd === 'recommend' ? ['recommend', f, '--top', '2'] : [cmd, f];
    },
    check: (c, r) => (cmd === 'simulate' || cmd === 'recommend' ? null : has(r.out, /\\u001b\[2J/)),
  })),
  {
    item: 2, name: 'report --json: escape sequences in op labels and layer names', code: 0,
    async setup(c) {
      return ['report', mutated(c, 'esc-label.json', (t) => {
        for (const e of t.traceEvents) if (e.ph === 'X' && e.args) e.args.label = ESC;
        t.pipeprof.layers[0].name = ESC;
      }), '--json'];
    },
  },
  {
    item: 2, name: 'report: a C1 control (CSI, U+009B) and a bidi override (U+202E) in model.name', code: 0,
    setup: async (c) => ['report', mutated(c, 'c1.json', (t) => (t.pipeprof.model.name = 'a\u009b2Jb\u202Ecba'))],
    check: (c, r) => has(r.out, /\\u009b2Jb\\u202ecba/),
  },
  {
    item: 2, name: 'report: a model name of 1 MB is cut', code: 0,
    setup: async (c) => ['report', mutated(c, 'long.json', (t) => (t.pipeprof.model.name = 'n'.repeat(1 << 20)))],
    check: (c, r) => (r.out.length < 10_000 ? has(r.out, /more characters/) : `printed ${r.out.length} characters`),
  },
  {
    item: 2, name: 'report: a trace file whose name holds escape sequences', code: 0,
    async setup(c) {
      const f = path.join(c.dir, `evil${ESC}.json`);
      fs.copyFileSync(c.trace, f);
      return ['report', f];
    },
  },
  {
    item: 2, name: 'plan.schedule holding escape sequences: refused as not a schedule', code: 2,
    setup: async (c) => ['report', mutated(c, 'sched.json', (t) => (t.pipeprof.plan.schedule = ESC))],
    check: (c, r) => has(r.err, /plan\.schedule must be one of gpipe/),
  },
  {
    item: 2, name: 'plan.recompute holding escape sequences: refused', code: 2,
    setup: async (c) => ['simulate', mutated(c, 'recomp.json', (t) => (t.pipeprof.plan.recompute = ESC))],
    check: (c, r) => has(r.err, /plan\.recompute must be one of/),
  },
  {
    item: 2, name: 'diff: plan.schedule unknown in the second trace', code: 2,
    setup: async (c) => ['diff', c.trace, mutated(c, 'sched2.json', (t) => (t.pipeprof.plan.schedule = 'pipedream'))],
  },
  {
    item: 2, name: 'a config whose field holds an escape sequence: the message escapes it', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'esc-cfg.json', JSON.stringify({ schedule: ESC }))],
    check: (c, r) => has(r.err, /\\u001b/),
  },

  // 3. Gzip inputs stream whatever their inflated size; nesting depth and one value's size are bounded.
  {
    item: 3, name: 'report: gzip of 256 MiB of "[" (a 250 KB bomb)', code: 2, heapMiB: 256,
    setup: async (c) => ['report', await gzipBomb(path.join(c.dir, 'brackets.json.gz'), '', '[', 256 << 20)],
    check: (c, r) => has(r.err, /nested deeper than/),
  },
  {
    item: 3, name: 'report: gzip of 512 MiB of spaces', code: 2, heapMiB: 256,
    setup: async (c) => ['report', await gzipBomb(path.join(c.dir, 'spaces.json.gz'), '', ' ', 512 << 20)],
  },
  {
    item: 3, name: 'report: gzip holding one 200 MiB string', code: 2, heapMiB: 256,
    setup: async (c) => ['report', await gzipBomb(path.join(c.dir, 'string.json.gz'), '{"traceEvents": [], "x": "', 'a', 200 << 20, '"}')],
    check: (c, r) => has(r.err, /MiB long/),
  },
  {
    item: 3, name: 'diff: a gzip bomb as the second trace', code: 2, heapMiB: 256,
    setup: async (c) => ['diff', c.trace, await gzipBomb(path.join(c.dir, 'b2.json.gz'), '{"traceEvents": ', '[', 64 << 20)],
  },
  {
    item: 3, name: 'recommend: a gzip bomb of nested objects in an event', code: 2, heapMiB: 256,
    setup: async (c) => ['recommend', await gzipBomb(path.join(c.dir, 'b3.json.gz'), '{"traceEvents": [', '{"a":', 64 << 20)],
  },
  {
    item: 3, name: 'import: a gzip bomb among PyTorch rank files', code: 2, heapMiB: 256,
    async setup(c) {
      const d = path.join(c.dir, 'ranks');
      fs.mkdirSync(d);
      fs.copyFileSync(c.kineto, path.join(d, 'rank0.json.gz'));
      await gzipBomb(path.join(d, 'rank1.json.gz'), '{"schemaVersion": 1, "traceEvents": [', '[', 64 << 20);
      return ['import', d, '--out', path.join(c.dir, 'imp.pptrace.json'), '--quiet'];
    },
  },
  {
    item: 3, name: 'report: plain JSON of 60 MiB of "["', code: 2, heapMiB: 256,
    async setup(c) {
      const f = path.join(c.dir, 'plain-brackets.json');
      fs.writeFileSync(f, Buffer.alloc(60 << 20, '['));
      return ['report', f];
    },
  },
  {
    item: 3, name: 'report: a pipeprof block nested 1M deep (plain, small)', code: 2,
    async setup(c) {
      const f = path.join(c.dir, 'deep.json');
      fs.writeFileSync(f, `{"traceEvents": [], "pipeprof": ${'['.repeat(1 << 20)}${']'.repeat(1 << 20)}}`);
      return ['report', f];
    },
  },
  {
    item: 3, name: 'report: a real trace gzipped (streamed) reads as before', code: 0,
    async setup(c) {
      const f = path.join(c.dir, 'small.json.gz');
      fs.writeFileSync(f, zlib.gzipSync(fs.readFileSync(c.trace)));
      return ['report', f];
    },
  },
  {
    item: 3, name: 'report: a gzip cut in half', code: 2,
    async setup(c) {
      const gz = zlib.gzipSync(fs.readFileSync(c.trace));
      const f = path.join(c.dir, 'cut.json.gz');
      fs.writeFileSync(f, gz.subarray(0, gz.length >> 1));
      return ['report', f];
    },
  },

  // 4. Work bounded before it starts: memory and threads estimated, divisor hints cheap, flags bounded.
  {
    item: 4, name: 'capture --replicas 1000000 --batch 4000000: refused with the estimate and the machine memory', code: 2,
    setup: async () => ['capture', '--replicas', '1000000', '--batch', '4000000', '--microbatches', '4', '--quiet'],
    check: (c, r) => has(r.err, /GiB.*this machine's .* of memory|threads a capture may start/),
  },
  {
    item: 4, name: 'capture --batch 1000000000 --microbatches 7: divisor hints without a list of 10^9', code: 2, heapMiB: 128,
    setup: async () => ['capture', '--batch', '1000000000', '--microbatches', '7', '--quiet'],
    check: (c, r) => has(r.err, /divisors of 1000000000: 1, 2, 4, 5, 8/),
  },
  {
    item: 4, name: 'capture --batch 99999999 --microbatches 7', code: 2, heapMiB: 128,
    setup: async () => ['capture', '--batch', '99999999', '--microbatches', '7', '--quiet'],
  },
  {
    item: 4, name: 'capture: mlp width 20000 depth 8 (over a wasm worker\'s 4 GiB)', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'wide.json', '{"model": {"name": "mlp", "width": 20000, "depth": 8}}'), '--quiet'],
    check: (c, r) => has(r.err, /wasm worker can address/),
  },
  {
    item: 4, name: 'capture: mlp width 100000', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'wider.json', '{"model": {"name": "mlp", "width": 100000, "depth": 8}}'), '--quiet'],
  },
  {
    item: 4, name: 'capture: mlp depth 10^7 (a model option past its bound)', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'deepmlp.json', '{"model": {"name": "mlp", "width": 8, "depth": 10000000}}'), '--quiet'],
    check: (c, r) => has(r.err, /model\.depth must be a positive integer up to/),
  },
  {
    item: 4, name: 'capture --steps 100000000: the trace alone would not fit', code: 2,
    setup: async () => ['capture', '--steps', '100000000', '--quiet'],
    check: (c, r) => has(r.err, /needs about .* GiB/),
  },
  {
    item: 4, name: 'capture --warmup-ms 1e300 (a warm-up without end)', code: 2,
    setup: async () => ['capture', '--warmup-ms', '1e300', '--quiet'],
    check: (c, r) => has(r.err, /--warmup-ms must be at most 3600000/),
  },
  {
    item: 4, name: 'simulate --steps 1000000', code: 2,
    setup: async (c) => ['simulate', c.trace, '--steps', '1000000'],
    check: (c, r) => has(r.err, /--steps must be at most 10000/),
  },
  {
    item: 4, name: 'recommend --workers 1000000', code: 2,
    setup: async (c) => ['recommend', c.trace, '--workers', '1000000'],
  },
  {
    item: 4, name: 'recommend --verify 1e9', code: 2,
    setup: async (c) => ['recommend', c.trace, '--verify', '1e9'],
  },
  {
    item: 4, name: 'recommend --top 1e9 and --stages 1e9', code: 2,
    setup: async (c) => ['recommend', c.trace, '--top', '1e9', '--stages', '1e9'],
  },

  // 5. Numbers out of their sane range in a trace: refused, naming the field.
  ...([
    ['dur 1e308', 'recommend', (t: Record<string, any>) => (firstX(t).dur = 1e308), /\.dur must be/],
    ['ts 1e308', 'report', (t: Record<string, any>) => (firstX(t).ts = 1e308), /\.ts must be/],
    ['args.bytes 1e308', 'report', (t: Record<string, any>) => (firstX(t).args.bytes = 1e308), /args\.bytes must be/],
    ['layer costs (forwardMs) 1e308', 'simulate', (t: Record<string, any>) => (t.pipeprof.layerCosts[0].points[0].forwardMs = 1e308), /layerCosts\[0\]\.points\[0\]\.forwardMs/],
    ['run.batch 1e308', 'simulate', (t: Record<string, any>) => (t.pipeprof.run.batch = 1e308), /run\.batch must be/],
    ['layers[0].params 1e308', 'recommend', (t: Record<string, any>) => (t.pipeprof.layers[0].params = 1e308), /layers\[0\]\.params/],
    ['steps[0].endUs 1e308', 'report', (t: Record<string, any>) => (t.pipeprof.steps[0].endUs = 1e308), /steps\[0\]\.endUs/],
    ['plan.microbatches 10^12', 'simulate', (t: Record<string, any>) => (t.pipeprof.plan.microbatches = 1e12), /plan\.microbatches must be/],
    ['plan.replicas 10^9', 'recommend', (t: Record<string, any>) => (t.pipeprof.plan.replicas = 1e9), /plan\.replicas must be/],
    ['savedBytesPerSample -1', 'recommend', (t: Record<string, any>) => (t.pipeprof.layerCosts[0].savedBytesPerSample = -1), /savedBytesPerSample/],
  ] as const).map(([what, cmd, edit, re]): HostileCase => ({
    item: 5, name: `${cmd}: ${what}`, code: 2,
    setup: async (c) => [cmd, mutated(c, `range-${what.replace(/\W+/g, '-')}.json`, edit)],
    check: (c, r) => has(r.err, re),
  })),
  {
    item: 5, name: 'recommend: dur written as 1e999 (JSON Infinity) is named as Infinity', code: 2,
    async setup(c) {
      const f = mutated(c, 'inf.json', (t) => (firstX(t).dur = 123456789.5));
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('123456789.5', '1e999'));
      return ['recommend', f];
    },
    check: (c, r) => has(r.err, /got Infinity/),
  },

  // 6. Outputs checked before work; a late failure keeps the result and says where.
  {
    item: 6, name: 'capture --out onto a folder: refused before training', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'small-a.json', SMALL), '--out', c.dir, '--quiet'],
    check: (c, r) => has(r.err, /is a folder/),
  },
  {
    item: 6, name: 'capture --out into a read-only folder (a read-only tmpfs): refused before training', code: 2,
    async setup(c) {
      const m = mountTmpfs(path.join(c.dir, 'ro'), 'ro,size=64k');
      if (typeof m !== 'string') return m;
      return ['capture', cfgFile(c, 'small-b.json', SMALL), '--out', path.join(m, 'run.json'), '--quiet'];
    },
    check: (c, r) => has(r.err, /read-only file system/),
  },
  {
    item: 6, name: 'capture --out /dev/full: refused before training', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'small-c.json', SMALL), '--out', '/dev/full', '--quiet'],
    check: (c, r) => has(r.err, /refuses writes/),
  },
  {
    item: 6, name: 'capture --save-weights into a folder that does not exist: refused before training', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'small-d.json', SMALL), '--out', path.join(c.dir, 'ok.json'), '--save-weights', path.join(c.dir, 'no', 'w.json'), '--quiet'],
    check: (c, r) => has(r.err, /--save-weights .*does not exist/),
  },
  {
    item: 6, name: 'simulate --out with a 245-character name (its temporary name fits too)', code: 0,
    setup: async (c) => ['simulate', c.trace, '--out', path.join(c.dir, `${'n'.repeat(240)}.json`)],
    check: (c) => (fs.existsSync(path.join(c.dir, `${'n'.repeat(240)}.json`)) ? null : 'not written'),
  },
  {
    item: 6, name: 'simulate --out with a 300-character name: refused', code: 2,
    setup: async (c) => ['simulate', c.trace, '--out', path.join(c.dir, `${'n'.repeat(295)}.json`)],
    check: (c, r) => has(r.err, /too long/),
  },
  {
    item: 6, name: 'simulate --out on a full file system (a 4 KiB tmpfs): exit 1, the result kept in the temporary folder, and said where', code: 1,
    async setup(c) {
      const m = mountTmpfs(path.join(c.dir, 'full'), 'size=4k');
      if (typeof m !== 'string') return m;
      return ['simulate', c.trace, '--out', path.join(m, 'p.json')];
    },
    check(c, r) {
      const kept = /kept at (\S+);/.exec(r.err)?.[1];
      if (!kept) return `no "kept at" in: ${r.err}`;
      const ok = read(kept).pipeprof?.source === 'predicted';
      fs.rmSync(kept, { force: true });
      return ok ? null : 'the kept file is not the prediction';
    },
  },

  // 7. No output is an input, and no two outputs are one file.
  {
    item: 7, name: 'simulate t.json --out t.json', code: 2,
    async setup(c) {
      const f = path.join(c.dir, 't.json');
      fs.copyFileSync(c.trace, f);
      return ['simulate', f, '--out', f];
    },
    check: (c, r) => (read(path.join(c.dir, 't.json')).pipeprof.source !== 'predicted' ? has(r.err, /is the input/) : 'the measured trace was replaced'),
  },
  {
    item: 7, name: 'report t.json --html t.json', code: 2,
    async setup(c) {
      const f = path.join(c.dir, 'th.json');
      fs.copyFileSync(c.trace, f);
      return ['report', f, '--html', f];
    },
    check: (c) => (read(path.join(c.dir, 'th.json')).pipeprof ? null : 'replaced'),
  },
  {
    item: 7, name: 'capture cfg.json --out cfg.json', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'self.json', SMALL), '--out', path.join(c.dir, 'self.json'), '--quiet'],
    check: (c, r) => (fs.readFileSync(path.join(c.dir, 'self.json'), 'utf8') === SMALL ? has(r.err, /config file/) : 'the config was replaced'),
  },
  {
    item: 7, name: 'capture --out x --save-weights x', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'small-e.json', SMALL), '--out', path.join(c.dir, 'x.json'), '--save-weights', path.join(c.dir, 'x.json'), '--quiet'],
    check: (c, r) => has(r.err, /are one file/),
  },
  {
    item: 7, name: 'simulate --out a symlink to the input', code: 2,
    async setup(c) {
      const f = path.join(c.dir, 'in.json');
      fs.copyFileSync(c.trace, f);
      fs.symlinkSync(f, path.join(c.dir, 'in-link.json'));
      return ['simulate', f, '--out', path.join(c.dir, 'in-link.json')];
    },
  },
  {
    item: 7, name: 'simulate --out a hard link of the input', code: 2,
    async setup(c) {
      const f = path.join(c.dir, 'hin.json');
      fs.copyFileSync(c.trace, f);
      fs.linkSync(f, path.join(c.dir, 'hin-link.json'));
      return ['simulate', f, '--out', path.join(c.dir, 'hin-link.json')];
    },
  },
  {
    item: 7, name: 'report --with o.json --html o.json', code: 2,
    async setup(c) {
      const o = path.join(c.dir, 'o.json');
      fs.copyFileSync(c.trace, o);
      return ['report', c.trace, '--with', o, '--html', o];
    },
  },
  {
    item: 7, name: 'recommend t.json --apply t.json', code: 2,
    async setup(c) {
      const f = path.join(c.dir, 'ta.json');
      fs.copyFileSync(c.trace, f);
      return ['recommend', f, '--apply', f];
    },
    check: (c) => (read(path.join(c.dir, 'ta.json')).traceEvents ? null : 'the trace was edited'),
  },
  {
    item: 7, name: 'import rank.json.gz --out rank.json.gz', code: 2,
    async setup(c) {
      const f = path.join(c.dir, 'rank.json.gz');
      fs.copyFileSync(c.kineto, f);
      return ['import', f, '--out', f, '--quiet'];
    },
  },
  {
    item: 7, name: 'import a folder --out a rank file in it', code: 2,
    async setup(c) {
      const d = path.join(c.dir, 'rk');
      fs.mkdirSync(d);
      fs.copyFileSync(c.kineto, path.join(d, 'r0.json.gz'));
      return ['import', d, '--out', path.join(d, 'r0.json.gz'), '--quiet'];
    },
  },

  // 8. Stale temporaries of a killed writer are removed by the next write.
  {
    item: 8, name: 'a temporary left by a SIGKILLed writer (its pid gone) is removed by the next write of that file', code: 0,
    async setup(c) {
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
      fs.writeFileSync(path.join(c.dir, `.w.json.${dead}.1700000000000.tmp`), '{"half');
      fs.writeFileSync(path.join(c.dir, `.w.json.${process.pid}.1700000000001.tmp`), 'live');
      return ['simulate', c.trace, '--out', path.join(c.dir, 'w.json')];
    },
    check(c) {
      const left = fs.readdirSync(c.dir).filter((n) => n.endsWith('.tmp'));
      return left.length === 1 && left[0].includes(`.${process.pid}.`) ? null : `temporaries left: ${left.join(', ')}`;
    },
  },

  // 9. Messages.
  {
    item: 9, name: 'capture --steps Infinity names Infinity', code: 2,
    setup: async () => ['capture', '--steps', 'Infinity', '--quiet'],
    check: (c, r) => has(r.err, /got Infinity/),
  },
  {
    item: 9, name: 'capture --lr Infinity names Infinity', code: 2,
    setup: async () => ['capture', '--lr', 'Infinity', '--quiet'],
    check: (c, r) => has(r.err, /got Infinity/),
  },
  {
    item: 9, name: 'demo --steps Infinity names Infinity (it was taken as the default before)', code: 2,
    setup: async () => ['demo', '--steps', 'Infinity'],
    check: (c, r) => has(r.err, /--steps must be a positive integer \(got Infinity\)/),
  },
  {
    item: 9, name: 'simulate --steps Infinity', code: 2,
    setup: async (c) => ['simulate', c.trace, '--steps', 'Infinity'],
  },
  {
    item: 9, name: 'a config with a BOM reads like one without', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'bom.json', '\ufeff{"stages": 0}'), '--quiet'],
    check: (c, r) => has(r.err, /stages must be a positive integer/),
  },
  {
    item: 9, name: 'a config nested 100,000 deep', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'nest.json', `{"model": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`), '--quiet'],
    check: (c, r) => has(r.err, /nests deeper than 64 levels/),
  },
  {
    item: 9, name: 'a config repeating a key names the key', code: 2,
    setup: async (c) => ['capture', cfgFile(c, 'dup.json', '{\n  "batch": 16,\n  "stages": 2,\n  "batch": 32\n}'), '--quiet'],
    check: (c, r) => has(r.err, /key "batch" appears twice in one object \(lines 2 and 4\)/),
  },
  {
    item: 9, name: 'a config of 100 MB of whitespace: refused by its size', code: 2, heapMiB: 128,
    async setup(c) {
      const f = path.join(c.dir, 'ws.json');
      fs.writeFileSync(f, Buffer.alloc(100 << 20, ' '));
      return ['capture', f, '--quiet'];
    },
    check: (c, r) => has(r.err, /at most 1 MiB/),
  },
  {
    item: 9, name: 'a config read from /dev/zero (never ends): refused by its size', code: 2, heapMiB: 128,
    setup: async () => ['capture', '/dev/zero', '--quiet'],
  },
  {
    item: 9, name: 'recommend --apply onto a config nested 100,000 deep', code: 2,
    setup: async (c) => ['recommend', c.trace, '--apply', cfgFile(c, 'nest2.json', `{"a": ${'{"a": '.repeat(100_000)}1${'}'.repeat(100_000)}}`)],
  },
  {
    item: 9, name: 'recommend --apply onto a config repeating a key', code: 2,
    setup: async (c) => ['recommend', c.trace, '--apply', cfgFile(c, 'dup2.json', '{"batch": 8, "batch": 8}')],
  },
];

/** The CLI in a child process (`heapMiB` caps V8's heap), with its peak resident memory: for memory bounds and signals. */
export async function runInChild(argv: string[], opts: { root: string; heapMiB?: number; env?: NodeJS.ProcessEnv } ): Promise<Outcome & { rssBytes: number }> {
  const { spawn } = await import('node:child_process');
  const main = path.join(opts.root, 'dist', 'cli', 'main.js');
  const script = `require(${JSON.stringify(main)}).run(JSON.parse(process.argv[1])).then((c) => { process.exitCode = c; process.stderr.write('\\n#rss ' + process.resourceUsage().maxRSS * 1024 + '\\n'); })`;
  const args = [...(opts.heapMiB ? [`--max-old-space-size=${opts.heapMiB}`] : []), '-e', script, JSON.stringify(argv)];
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    p.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    p.on('close', (code, signal) => {
      const m = /\n#rss (\d+)\n$/.exec(err);
      resolve({ code: code ?? (signal ? 128 : -1), out, err: m ? err.slice(0, m.index) : err, rssBytes: m ? Number(m[1]) : NaN });
    });
  });
}

/** Starts a capture that runs long, waits for its second step on stderr, sends `signal`; resolves with how it ended. */
export async function interrupt(signal: NodeJS.Signals, out: string, bin: string): Promise<{ code: number | null; err: string }> {
  const { spawn } = await import('node:child_process');
  const cfg = path.join(path.dirname(out), `long-${signal}.json`);
  fs.writeFileSync(cfg, JSON.stringify({ ...SMALL_CONFIG, steps: 100000, warmup: 0 }));
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, 'capture', cfg, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let sent = false;
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      if (!sent && /capture \[.*\] 2\//.test(err)) {
        sent = true;
        p.kill(signal);
      }
    });
    p.on('close', (code) => resolve({ code, err }));
  });
}
