// What the CLI writes, written so that a kill at any moment leaves either the old file or the
// new one, never half of one, and never over an input:
//  - writeFileAtomic: a file goes to a temporary name beside it, is flushed, then renamed
//    over the target (rename is atomic within a folder on POSIX file systems).
//  - StagedFolder: an output folder (an export, a run replacing another with --overwrite) is
//    written and checked in a hidden sibling folder, and only then put in place; a command
//    that fails leaves what was there.
//  - refuseOverlap: an output that is, contains or lies inside an input (the model folder,
//    an adapter, the run being exported, a data file) is refused before anything is opened.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UsageError } from './args.ts';

/** An output refused before anything was written (exit code 2, no usage text after it). */
export class OutputRefused extends UsageError {
  override showUsage = false;
}

let counter = 0;
const tmpSuffix = () => `.tmp-${process.pid}-${++counter}`;

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}

/** Write `bytes` to `path` through a temporary file in the same folder and a rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}${tmpSuffix()}`);
  const fd = openSync(tmp, 'w');
  try {
    let at = 0;
    while (at < data.length) at += writeSync(fd, data, at, data.length - at);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dir);
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
function realish(p: string): string {
  const abs = resolve(p);
  let head = abs;
  const rest: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) break;
    rest.unshift(basename(head));
    head = up;
  }
  return join(realpathSync(head), ...rest);
}

const within = (inner: string, outer: string) => {
  const r = relative(outer, inner);
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
};

export interface NamedPath {
  /** How the user named it: "--model builtin:tiny-kjv", "--run runs/a", … */
  flag: string;
  path: string;
}

/** Refuse an output folder that is, contains or lies inside one of the inputs. */
export function refuseOverlap(out: NamedPath, inputs: readonly (NamedPath | undefined)[]): void {
  const o = realish(out.path);
  for (const input of inputs) {
    if (!input) continue;
    const i = realish(input.path);
    const why = o === i ? 'is' : within(o, i) ? 'lies inside' : within(i, o) ? 'contains' : undefined;
    if (why) {
      throw new OutputRefused(`${out.flag} ${out.path} ${why} ${input.flag}${input.flag.includes(input.path) ? '' : ` (${input.path})`}: writing there could destroy it. Nothing was written; choose an output folder outside it.`);
    }
  }
}

/** Names in a folder that is there (empty list when it is not). */
export function folderEntries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) throw new OutputRefused(`${dir} is a file, not a folder`);
  return readdirSync(dir);
}

/**
 * An output folder built in a hidden sibling (`.<name>.partial-<pid>`) and swapped in by
 * `commit()`: the old folder (if any, and only when the caller allowed replacing it) is
 * moved aside, the new one renamed into place, the old one deleted. `abandon()` removes the
 * sibling and leaves the target as it was.
 */
export class StagedFolder {
  readonly path: string;

  constructor(readonly target: string) {
    this.path = join(dirname(resolve(target)), `.${basename(resolve(target))}.partial-${process.pid}-${++counter}`);
    mkdirSync(this.path, { recursive: true });
  }

  commit(): void {
    const target = resolve(this.target);
    fsyncDir(this.path);
    if (existsSync(target)) {
      const old = join(dirname(target), `.${basename(target)}.old-${process.pid}-${++counter}`);
      renameSync(target, old);
      renameSync(this.path, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(this.path, target);
    }
    fsyncDir(dirname(target));
  }

  abandon(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Remove temporary files a killed writer left in `dir` (`.<name>.tmp-<pid>-<n>`). */
export function removeStaleTemporaries(dir: string): void {
  for (const n of folderEntries(dir)) if (/^\..+\.tmp-\d+-\d+$/.test(n)) rmSync(join(dir, n), { force: true });
}
