// Storage limits (issue 15, item 6): a write the browser refuses for want of space becomes a
// message that says what takes the space and how to free it: a run record (IndexedDB) and a
// Hub download (OPFS, through the FileCache).
import { describe, expect, it } from 'vitest';
import { hubFile, HubError, type FileCache } from '../../src/engine/io/hub.ts';
import { storageFullError } from '../../src/ui/persist.ts';

const quota = () => Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' });

describe('a full storage', () => {
  it('a refused run save names the space used, the largest runs, the cache, and what to do', () => {
    const e = storageFullError(quota(), 'run "lora r=8"', { usage: 900e6, quota: 1e9, runs: [{ label: 'a', bytes: 100e6 }, { label: 'big', bytes: 300e6 }] });
    expect(e).toBeInstanceOf(Error);
    const m = (e as Error).message;
    expect((e as Error).name).toBe('StorageFullError');
    expect(m).toMatch(/storage for this site is full \(this site uses 858 MiB of the 954 MiB the browser allows\)/);
    expect(m).toMatch(/run "lora r=8" could not be saved/);
    expect(m).toMatch(/Stored runs take 381 MiB \(largest: big 286 MiB, a 95\.4 MiB\); the rest, 477 MiB, is mostly the Hub download cache/);
    expect(m).toMatch(/mostly the Hub download cache/);
    expect(m).toMatch(/Delete runs .* clear the Hub cache .* stays in this tab/);
    const other = new TypeError('x');
    expect(storageFullError(other, 'x', { runs: [] })).toBe(other);
  });

  it('a download that fills the storage stops with what the cache holds, the bytes so far kept', async () => {
    let kept = 0;
    const cache: FileCache = {
      stored: async () => kept, isComplete: async () => false, markComplete: async () => {}, remove: async () => {}, clear: async () => {},
      open: async () => { throw new Error('not complete'); },
      usage: async () => 12.5e6,
      async append(_k, chunk) {
        if (kept + chunk.byteLength > 6) throw quota();
        kept += chunk.byteLength;
      },
    };
    const body = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(new Uint8Array(4)); c.enqueue(new Uint8Array(4)); c.close(); } });
    const fake: typeof fetch = async () => new Response(body, { headers: { 'content-length': '8' } });
    const err = await hubFile('acme/model', 'model.safetensors', { cache, fetch: fake }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(String(err)).toMatch(/storage for downloads is full: acme\/model\/model\.safetensors stopped at 4 of 8 bytes .* Hub cache takes 12\.5 MB: clear it/);
  });
});
