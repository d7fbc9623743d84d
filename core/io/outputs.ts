// Outputs checked before any work (writable, not an input, not another output), and a result kept elsewhere when its write fails late.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from '../config/errors';
import { resolveLinks, tmpName, writeFileAtomic, writeModeOf } from './atomic';

/** One output of a command: the flag (or config field) that names it, and its path. */
export interface Output {
  flag: string;
  file: string | undefined;
}

/** A file's identity: device and inode when it exists, else its path with links resolved. */
function identity(file: string): string {
  const target = resolveLinks(file);
  const st = statOrNull(target);
  return st ? `${st.dev}:${st.ino}` : target;
}

/** stat, or null for any failure (missing, a name too long, a folder not searchable): the probe names those. */
function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

const isCharDevice = (file: string): boolean => !!statOrNull(resolveLinks(file))?.isCharacterDevice();

/** Why a file cannot be created in `dir`, in words; null when a probe file could be created and removed there. */
function probe(target: string): string | null {
  const tmp = tmpName(target);
  try {
    fs.closeSync(fs.openSync(tmp, 'wx'));
    fs.rmSync(tmp, { force: true });
    // A new file's own name must fit too (the temporary's is cut to fit).
    if (!statOrNull(target)) {
      fs.closeSync(fs.openSync(target, 'wx'));
      fs.rmSync(target, { force: true });
    }
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const dir = path.dirname(target);
    if (code === 'ENOENT') return `folder ${dir} does not exist; create it or choose another output path`;
    if (code === 'ENOTDIR') return `${dir} is not a folder; choose another output path`;
    if (code === 'EROFS') return `folder ${dir} is on a read-only file system; choose another output path`;
    if (code === 'EACCES' || code === 'EPERM') return `cannot create files in folder ${dir} (permission denied); choose another output path or fix its permissions`;
    if (code === 'ENAMETOOLONG') return `the file name is too long for the file system (${Buffer.byteLength(path.basename(target))} bytes); choose a shorter name`;
    if (code === 'ENOSPC' || code === 'EDQUOT') return `no space left in folder ${dir}; free some space or choose another output path`;
    return `cannot create files in folder ${dir} (${code ?? (e as Error).message}); choose another output path`;
  }
}

/** Why a character device refuses writes (a zero-byte write: /dev/full says ENOSPC), or null; a pipe is not probed (that would need its reader). */
function probeDevice(target: string): string | null {
  if (!statOrNull(target)?.isCharacterDevice()) return null;
  let fd: number | undefined;
  try {
    fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, Buffer.alloc(0));
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `the device refuses writes (${code === 'ENOSPC' ? 'ENOSPC: it is always full' : code ?? (e as Error).message}); write to a file`;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Checks every output before a command does any work: each can be written (a probe file is created and removed in
 * its folder; a folder, block device or socket is refused), none is one of `inputs` (the same file after resolving
 * links), and no two outputs are one file (character devices such as /dev/null excepted). Throws a UsageError listing
 * every problem, each naming the flag.
 */
export function checkOutputs(outputs: readonly Output[], inputs: readonly { flag: string; file: string | undefined }[] = []): void {
  const problems: string[] = [];
  const given = outputs.filter((o): o is { flag: string; file: string } => typeof o.file === 'string' && o.file !== '');
  const inputIds = new Map<string, { flag: string; file: string }>();
  for (const i of inputs) {
    if (!i.file) continue;
    const st = statOrNull(resolveLinks(i.file));
    if (st && !st.isDirectory()) inputIds.set(`${st.dev}:${st.ino}`, i as { flag: string; file: string });
  }
  const seen = new Map<string, { flag: string; file: string }>();
  for (const o of given) {
    const at = `${o.flag} ${o.file}`;
    let target: string;
    try {
      target = resolveLinks(o.file);
      const why = writeModeOf(target, o.file) === 'replace' ? probe(target) : probeDevice(target);
      if (why) problems.push(`${at}: ${why}`);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      problems.push(...e.problems.map((p) => `${o.flag} ${p}`));
      continue;
    }
    const id = identity(o.file);
    const input = inputIds.get(id);
    if (input) problems.push(`${at} is the input ${input.file}${input.flag ? ` (${input.flag})` : ''}, the same file; writing it would replace what is read; write to another file`);
    const other = seen.get(id);
    if (other && !isCharDevice(o.file)) problems.push(`${at} and ${other.flag} ${other.file} are one file; give each output its own file`);
    seen.set(id, o);
  }
  if (problems.length) throw new UsageError(problems);
}

/** A write that failed after the work was done; the result was kept at `keptAt` (null: nowhere could take it). */
export class OutputError extends Error {
  constructor(message: string, readonly keptAt: string | null) {
    super(message);
  }
}

/**
 * Writes an output; when that fails (a full disk, a device refusing writes), writes the same bytes into the system's
 * temporary folder instead and throws an OutputError saying where they are, so work already done is not lost.
 */
export async function writeOrKeep(flag: string, file: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(file, data);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    const kept = path.join(os.tmpdir(), `pipeprof-kept-${process.pid}-${Date.now()}-${path.basename(file).slice(-100) || 'output'}`);
    try {
      await writeFileAtomic(kept, data);
    } catch {
      throw new OutputError(`cannot write ${flag} ${file} (${why}), and the system's temporary folder ${os.tmpdir()} refused the result too; it is lost; free some space and run again`, null);
    }
    throw new OutputError(`cannot write ${flag} ${file} (${why}); the result is kept at ${kept}; move it where you want it`, kept);
  }
}
