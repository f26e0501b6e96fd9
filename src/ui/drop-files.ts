// Files dropped on the page: folders (DataTransfer item → webkitGetAsEntry() → directory
// traversal) and plain files (what a drop built by a script, or a file manager that gives
// no entries, carries). loadModel matches files by base name (io/browser-files.ts), so
// where a folder holds the same name twice the shallowest copy wins (a checkpoint-*/config.json
// must not shadow the top-level one). Hidden entries (.git, .cache) are skipped: a cloned
// repo's .git/lfs holds a second copy of every weight file.

export interface Dropped {
  files: File[];
  /** The folder's name when one folder was dropped. */
  name?: string;
}

const isDir = (e: FileSystemEntry): e is FileSystemDirectoryEntry => e.isDirectory;
const isFile = (e: FileSystemEntry): e is FileSystemFileEntry => e.isFile;

function fileOf(e: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => e.file(resolve, reject));
}

async function children(d: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = d.createReader();
  const all: FileSystemEntry[] = [];
  for (;;) {
    // readEntries gives a batch at a time (100 in Chromium) until an empty one.
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

/**
 * Read what a drop carries. Call it synchronously from the drop handler: the entries and
 * files of a DataTransfer are only readable during the event; the traversal runs after.
 */
export function readDrop(dt: DataTransfer): Promise<Dropped> {
  const entries: FileSystemEntry[] = [];
  const plain: File[] = [];
  for (const item of Array.from(dt.items)) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry?.();
    if (entry) entries.push(entry);
    else {
      const f = item.getAsFile();
      if (f) plain.push(f);
    }
  }
  if (entries.length === 0 && plain.length === 0) plain.push(...Array.from(dt.files));
  return collect(entries, plain);
}

async function collect(entries: FileSystemEntry[], plain: File[]): Promise<Dropped> {
  const found = new Map<string, { file: File; depth: number }>();
  const add = (file: File, depth: number) => {
    const prev = found.get(file.name);
    if (!prev || depth < prev.depth) found.set(file.name, { file, depth });
  };
  for (const f of plain) add(f, 0);
  const walk = async (e: FileSystemEntry, depth: number): Promise<void> => {
    if (e.name.startsWith('.')) return;
    if (isFile(e)) add(await fileOf(e), depth);
    else if (isDir(e)) for (const c of await children(e)) await walk(c, depth + 1);
  };
  for (const e of entries) await walk(e, isDir(e) ? -1 : 0);
  const dirs = entries.filter(isDir);
  const name = dirs.length === 1 && entries.length === 1 ? dirs[0].name : undefined;
  return { files: [...found.values()].map((v) => v.file), name };
}
