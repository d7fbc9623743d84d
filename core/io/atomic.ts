// Writes an output safely: a regular file via a temporary renamed over it (its mode and owner kept, through symlinks); a device or pipe streamed into, never replaced.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../config/errors';

/** File names longer than this many bytes are cut in temporary names, so `.NAME.PID.TIME.tmp` stays under NAME_MAX (255). */
const TMP_NAME_BYTES = 200;

/** The start of `name` in at most `max` UTF-8 bytes. */
function cutBytes(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name;
  let s = name;
  while (Buffer.byteLength(s) > max) s = s.slice(0, -1);
  return s;
}

/** The temporary files of writes to `file` are named `.<name>.<pid>.<ms>.tmp` in its folder; this matches them and captures the writer's pid. */
function tmpPattern(file: string): RegExp {
  const base = cutBytes(path.basename(file), TMP_NAME_BYTES).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\.${base}\\.(\\d+)\\.(\\d+)\\.tmp$`);
}

/** A new temporary name beside `file` (in the folder of the file the symlinks lead to). */
export function tmpName(file: string): string {
  return path.join(path.dirname(file), `.${cutBytes(path.basename(file), TMP_NAME_BYTES)}.${process.pid}.${Date.now()}.tmp`);
}

const alive = (pid: number): boolean => {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes temporaries a killed writer of `file` left behind (their pid is gone); returns the names removed. */
export function cleanStaleTemporaries(file: string): string[] {
  const dir = path.dirname(file);
  const re = tmpPattern(file);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = re.exec(n);
    if (!m || alive(Number(m[1]))) continue;
    try {
      fs.rmSync(path.join(dir, n), { force: true });
      removed.push(n);
    } catch {
      // another run removed it, or the folder is read-only: the write that follows names the problem
    }
  }
  return removed;
}

/** Where a write to `file` lands: the file its symlinks lead to (followed even when that file does not exist yet). */
export function resolveLinks(file: string): string {
  let p = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      // Not there (yet): resolve its folder's links, the name stays.
      try {
        return path.join(fs.realpathSync(path.dirname(p)), path.basename(p));
      } catch {
        return p;
      }
    }
    if (!st.isSymbolicLink()) {
      try {
        return fs.realpathSync(p);
      } catch {
        return p;
      }
    }
    p = path.resolve(path.dirname(p), fs.readlinkSync(p));
  }
  throw new UsageError([`${file}: too many levels of symbolic links; point it at a file`]);
}

/** How an output is written: `replace` (a new or regular file: temporary + rename) or `stream` (a character device or a pipe). */
export type WriteMode = 'replace' | 'stream';

/** How `target` (links resolved) would be written; a UsageError for what must never be written over (a folder, a block device, a socket). */
export function writeModeOf(target: string, shown = target): WriteMode {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    return 'replace'; // not there (or a name too long): the write, or checkOutputs' probe, names the problem
  }
  if (st.isFile()) return 'replace';
  if (st.isCharacterDevice() || st.isFIFO()) return 'stream';
  const what = st.isDirectory() ? 'a folder' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
  throw new UsageError([`${shown}: is ${what}${target !== path.resolve(shown) ? ` (${target})` : ''}; pipeprof writes only to a file, a character device or a pipe; give a file name`]);
}

/** Writes `data` to `file`: through its symlinks, keeping the target's mode and owner, never replacing a device or a pipe. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const target = resolveLinks(file);
  if (writeModeOf(target, file) === 'stream') {
    await fs.promises.writeFile(target, data);
    return;
  }
  cleanStaleTemporaries(target);
  const old = fs.statSync(target, { throwIfNoEntry: false });
  const tmp = tmpName(target);
  try {
    const handle = await fs.promises.open(tmp, 'wx', old ? old.mode & 0o7777 : 0o666);
    try {
      await handle.writeFile(data);
      if (old) {
        await handle.chmod(old.mode & 0o7777);
        if (process.getuid?.() === 0 && (old.uid !== 0 || old.gid !== 0)) await handle.chown(old.uid, old.gid);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** The synchronous twin of writeFileAtomic. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const target = resolveLinks(file);
  if (writeModeOf(target, file) === 'stream') {
    fs.writeFileSync(target, data);
    return;
  }
  cleanStaleTemporaries(target);
  const old = fs.statSync(target, { throwIfNoEntry: false });
  const tmp = tmpName(target);
  try {
    const fd = fs.openSync(tmp, 'wx', old ? old.mode & 0o7777 : 0o666);
    try {
      fs.writeFileSync(fd, data);
      if (old) {
        fs.fchmodSync(fd, old.mode & 0o7777);
        if (process.getuid?.() === 0 && (old.uid !== 0 || old.gid !== 0)) fs.fchownSync(fd, old.uid, old.gid);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
