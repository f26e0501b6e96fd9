// The Hub source against a local HTTP server that serves files in the Hub's URL layout
// (/<owner>/<name>/resolve/<revision>/<file>), with Range support, a gated repo, and a
// connection that breaks mid-download.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubFile, hubHas, HubError, type HubProgress } from '../../src/engine/io/hub.ts';
import { nodeDirCache } from '../../src/engine/io/node-cache.ts';
import { SafetensorsFile } from '../../src/engine/io/safetensors.ts';

// The built-in model's files stand in for a Hub repo's.
const MODEL = new URL('../../public/models/tiny-kjv/', import.meta.url).pathname;
const files: Record<string, Uint8Array> = {
  'tiny/stories/resolve/main/model.safetensors': readFileSync(join(MODEL, 'model.safetensors')),
  'tiny/stories/resolve/main/config.json': readFileSync(join(MODEL, 'config.json')),
  'acme/gated/resolve/v1/config.json': new TextEncoder().encode('{}'),
};
let breakNext = false;
const seen: { url: string; range?: string; auth?: string }[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = decodeURIComponent((req.url ?? '/').slice(1));
  seen.push({ url: path, range: req.headers.range, auth: req.headers.authorization });
  const body = files[path];
  if (!body) return void res.writeHead(404).end('Entry not found');
  if (path.startsWith('acme/gated') && req.headers.authorization !== 'Bearer hf_secret') return void res.writeHead(401).end();
  let start = 0;
  const m = req.headers.range?.match(/^bytes=(\d+)-$/);
  if (m) start = Number(m[1]);
  const part = body.subarray(start);
  res.writeHead(m ? 206 : 200, {
    'content-length': String(part.byteLength),
    ...(m ? { 'content-range': `bytes ${start}-${body.byteLength - 1}/${body.byteLength}` } : {}),
  });
  if (req.method === 'HEAD') return void res.end();
  if (breakNext) {
    breakNext = false;
    res.write(part.subarray(0, Math.floor(part.byteLength / 3)), () => res.destroy());
    return;
  }
  res.end(part);
}

let server: Server;
let endpoint = '';
beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('Hub source', () => {
  it('downloads with progress, resumes a broken download with Range, then serves from the cache', async () => {
    const cache = nodeDirCache(mkdtempSync(join(tmpdir(), 'webtune-hub-')));
    const progress: HubProgress[] = [];
    const opts = { endpoint, cache, onProgress: (p: HubProgress) => progress.push(p) };
    breakNext = true;
    const err = await hubFile('tiny/stories', 'model.safetensors', opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(String((err as Error).message)).toMatch(/broke off at \d+ of 1826040 bytes.*resume/);
    const partial = await cache.stored('tiny/stories/main/model.safetensors');
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(1826040);

    const src = await hubFile('tiny/stories', 'model.safetensors', opts);
    expect(seen.at(-1)?.range).toBe(`bytes=${partial}-`);
    expect(src.size).toBe(1826040);
    const st = await SafetensorsFile.open(src);
    expect(st.tensors.size).toBe(38);
    expect(Buffer.from(await src.read(0, src.size)).equals(Buffer.from(files['tiny/stories/resolve/main/model.safetensors']))).toBe(true);
    const last = progress.at(-1);
    expect(last).toMatchObject({ file: 'model.safetensors', loaded: 1826040, total: 1826040, fromCache: false });

    const requests = seen.length;
    await hubFile('tiny/stories', 'model.safetensors', opts);
    expect(seen.length).toBe(requests);
    expect(progress.at(-1)).toMatchObject({ fromCache: true, loaded: 1826040 });
    expect(await cache.usage()).toBe(1826040);
  });

  it('sends the token, and explains 401 and 404', async () => {
    const cache = nodeDirCache(mkdtempSync(join(tmpdir(), 'webtune-hub-')));
    await expect(hubFile('acme/gated', 'config.json', { endpoint, cache, revision: 'v1' })).rejects.toThrow(/HTTP 401.*private or gated.*access token/);
    const src = await hubFile('acme/gated', 'config.json', { endpoint, cache, revision: 'v1', token: 'hf_secret' });
    expect(new TextDecoder().decode(await src.read(0, src.size))).toBe('{}');
    await expect(hubFile('tiny/stories', 'nope.json', { endpoint, cache })).rejects.toThrow(/no file nope\.json in tiny\/stories at revision "main" \(HTTP 404\)/);
    expect(await hubHas('tiny/stories', 'config.json', { endpoint })).toBe(true);
    expect(await hubHas('tiny/stories', 'model.safetensors.index.json', { endpoint })).toBe(false);
    await expect(hubFile('not a repo', 'x', { endpoint, cache })).rejects.toThrow(/not a Hub repo id/);
  });
});
