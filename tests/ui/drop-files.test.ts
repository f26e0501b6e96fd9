// Folder drops (src/ui/drop-files.ts) on fake FileSystemEntry trees: Node has no drag and
// drop, and a browser page cannot synthesize directory entries (the e2e drop test covers
// the plain-files path in Chromium).
import { describe, expect, it } from 'vitest';
import { readDrop } from '../../src/ui/drop-files.ts';

type Tree = { [name: string]: string | Tree };

function entry(name: string, node: string | Tree, batch = 2): FileSystemEntry {
  if (typeof node === 'string') {
    const file = new File([node], name);
    const e = { name, isFile: true, isDirectory: false, file: (ok: (f: File) => void) => ok(file) };
    return e as unknown as FileSystemEntry;
  }
  const kids = Object.entries(node).map(([n, c]) => entry(n, c, batch));
  const e = {
    name,
    isFile: false,
    isDirectory: true,
    createReader: () => {
      let at = 0;
      // Batches, as Chromium's readEntries gives them, then an empty one.
      return { readEntries: (ok: (es: FileSystemEntry[]) => void) => ok(kids.slice(at, (at += batch))) };
    },
  };
  return e as unknown as FileSystemEntry;
}

function transfer(entries: (FileSystemEntry | File)[]): DataTransfer {
  const items = entries.map((x) => ({
    kind: 'file',
    webkitGetAsEntry: (): FileSystemEntry | null => (x instanceof File ? null : x),
    getAsFile: (): File | null => (x instanceof File ? x : null),
  }));
  return { items, files: [] } as unknown as DataTransfer;
}

const text = async (f: File) => f.text();

describe('readDrop', () => {
  it('walks a dropped folder in batches, keeps the shallowest file of each name, skips hidden entries', async () => {
    const folder = entry('SmolLM2-135M', {
      'config.json': 'top',
      'model.safetensors': 'weights',
      'tokenizer.json': 'tok',
      'checkpoint-500': { 'config.json': 'nested', 'optimizer.pt': 'x' },
      '.git': { lfs: { 'model.safetensors': 'lfs copy' } },
      deep: { deeper: { 'generation_config.json': 'gen' } },
    });
    const { files, name } = await readDrop(transfer([folder]));
    expect(name).toBe('SmolLM2-135M');
    const byName = new Map(files.map((f) => [f.name, f]));
    expect([...byName.keys()].sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'optimizer.pt', 'tokenizer.json']);
    expect(await text(byName.get('config.json')!)).toBe('top');
    expect(await text(byName.get('model.safetensors')!)).toBe('weights');
    expect(await text(byName.get('generation_config.json')!)).toBe('gen');
  });

  it('takes plain files (no entries) and names no folder', async () => {
    const { files, name } = await readDrop(transfer([new File(['a'], 'config.json'), new File(['b'], 'model.safetensors')]));
    expect(name).toBeUndefined();
    expect(files.map((f) => f.name)).toEqual(['config.json', 'model.safetensors']);
  });

  it('names no folder when several things are dropped', async () => {
    const { files, name } = await readDrop(transfer([entry('a', { 'config.json': '1' }), entry('model.safetensors', 'w')]));
    expect(name).toBeUndefined();
    expect(files.map((f) => f.name).sort()).toEqual(['config.json', 'model.safetensors']);
  });
});
