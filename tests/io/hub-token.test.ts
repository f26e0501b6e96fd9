// The Hub token goes only to the Hub (issue 15, item 8): a fake Hub whose dataset listing
// points its next page (Link: rel="next") at another local server, and whose file download
// redirects there; the token must never arrive at that other server. Plain-http endpoints
// other than localhost get no token, and repo paths with "..", absolute paths or control
// characters never become URLs.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubDatasetParquetFiles, hubFile, HubError, hubHeaders, hubUrl } from '../../src/engine/io/hub.ts';
import { nodeDirCache } from '../../src/engine/io/node-cache.ts';

const TOKEN = 'hf_do_not_leak';
let hub: Server;
let other: Server;
let HUB = '';
let OTHER = '';
const hubSeen: { url: string; auth?: string }[] = [];
const otherSeen: { url: string; auth?: string }[] = [];

function listen(s: Server): Promise<string> {
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
}

function hubHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  hubSeen.push({ url, auth: req.headers.authorization });
  if (url.startsWith('/api/datasets/acme/leaky/tree/main')) {
    // Page 1 of the listing; page 2 "lives" on another host.
    res.writeHead(200, { 'content-type': 'application/json', link: `<${OTHER}/api/datasets/acme/leaky/tree/main?cursor=2>; rel="next"` });
    return void res.end(JSON.stringify([{ type: 'file', path: 'train-0.parquet', size: 10 }]));
  }
  if (url.startsWith('/api/datasets/acme/paged/tree/main')) {
    const second = url.includes('cursor=2');
    res.writeHead(200, { 'content-type': 'application/json', ...(second ? {} : { link: `<${HUB}/api/datasets/acme/paged/tree/main?recursive=true&cursor=2>; rel="next"` }) });
    return void res.end(JSON.stringify([{ type: 'file', path: second ? 'train-1.parquet' : 'train-0.parquet', size: 10 }]));
  }
  if (url === '/acme/model/resolve/main/big.bin') {
    // Large files are served from a CDN on another host.
    res.writeHead(302, { location: `${OTHER}/cdn/big.bin` });
    return void res.end();
  }
  if (url === '/acme/model/resolve/main/here.bin') {
    res.writeHead(302, { location: '/acme/model/resolve/main/small.bin' });
    return void res.end();
  }
  if (url === '/acme/model/resolve/main/small.bin') {
    res.writeHead(200, { 'content-length': '3' });
    return void res.end('abc');
  }
  res.writeHead(404).end();
}

function otherHandler(req: IncomingMessage, res: ServerResponse): void {
  otherSeen.push({ url: req.url ?? '/', auth: req.headers.authorization });
  if (req.url === '/cdn/big.bin') {
    res.writeHead(200, { 'content-length': '5' });
    return void res.end('12345');
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('[]');
}

beforeAll(async () => {
  hub = createServer(hubHandler);
  other = createServer(otherHandler);
  HUB = await listen(hub);
  OTHER = await listen(other);
});

afterAll(() => {
  hub.close();
  other.close();
});

describe('the Hub token', () => {
  it('is never sent to a host a Link header names; the listing stops with a clear error instead', async () => {
    const err = await hubDatasetParquetFiles('acme/leaky', { endpoint: HUB, token: TOKEN }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(String(err)).toMatch(/continues at another host \(http:\/\/127\.0\.0\.1:\d+\); webtune talks only to the Hub endpoint/);
    expect(otherSeen.filter((r) => r.auth)).toEqual([]);
    expect(hubSeen.some((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
    // A next page on the endpoint itself is followed, with the token.
    const paged = await hubDatasetParquetFiles('acme/paged', { endpoint: HUB, token: TOKEN });
    expect(paged.files.map((f) => f.path)).toEqual(['train-0.parquet', 'train-1.parquet']);
    expect(hubSeen.filter((r) => r.url.includes('paged') && r.url.includes('cursor=2')).map((r) => r.auth)).toEqual([`Bearer ${TOKEN}`]);
  });

  it('is dropped on a redirect to another host, kept on one within the endpoint', async () => {
    const cache = nodeDirCache(mkdtempSync(join(tmpdir(), 'webtune-token-')));
    const big = await hubFile('acme/model', 'big.bin', { endpoint: HUB, token: TOKEN, cache });
    expect(new TextDecoder().decode(await big.read(0, big.size))).toBe('12345');
    const cdn = otherSeen.filter((r) => r.url === '/cdn/big.bin');
    expect(cdn.length).toBe(1);
    expect(cdn[0].auth).toBeUndefined();
    const small = await hubFile('acme/model', 'here.bin', { endpoint: HUB, token: TOKEN, cache });
    expect(small.size).toBe(3);
    expect(hubSeen.filter((r) => r.url.endsWith('small.bin')).map((r) => r.auth)).toEqual([`Bearer ${TOKEN}`]);
    expect(otherSeen.filter((r) => r.auth)).toEqual([]);
  });

  it('never goes over plain http to another machine, and never to another origin', async () => {
    let calls = 0;
    const spy: typeof fetch = async () => {
      calls++;
      return new Response('x');
    };
    const cache = nodeDirCache(mkdtempSync(join(tmpdir(), 'webtune-token-')));
    await expect(hubFile('acme/model', 'config.json', { endpoint: 'http://hub.example.com', token: TOKEN, cache, fetch: spy })).rejects.toThrow(/sent only over https .* plain http/);
    expect(calls).toBe(0);
    expect(hubHeaders('https://huggingface.co/a/b/resolve/main/x', { token: TOKEN })).toEqual({ Authorization: `Bearer ${TOKEN}` });
    expect(hubHeaders('https://evil.example.com/a', { token: TOKEN })).toEqual({});
    expect(hubHeaders('http://huggingface.co/a', { token: TOKEN })).toEqual({});
    expect(hubHeaders('http://localhost:8080/a', { token: TOKEN, endpoint: 'http://localhost:8080' })).toEqual({ Authorization: `Bearer ${TOKEN}` });
    expect(() => hubHeaders('https://x', { token: TOKEN, endpoint: 'https://user:pw@huggingface.co' })).toThrow(/user name or password/);
  });

  it('repo paths with "..", absolute paths, backslashes or control characters never become URLs', async () => {
    for (const bad of ['../../api/whoami', 'a/../../b', '/etc/passwd', 'a//b', 'a\\..\\b', 'a\nb', './x', '']) {
      expect(() => hubUrl('acme/model', bad), JSON.stringify(bad)).toThrow(HubError);
    }
    expect(() => hubUrl('acme/model', 'x.bin', '..')).toThrow(/revision/);
    expect(hubUrl('acme/model', 'sub dir/model-00001-of-00002.safetensors')).toBe('https://huggingface.co/acme/model/resolve/main/sub%20dir/model-00001-of-00002.safetensors');
    let calls = 0;
    const spy: typeof fetch = async () => {
      calls++;
      return new Response('x');
    };
    const cache = nodeDirCache(mkdtempSync(join(tmpdir(), 'webtune-token-')));
    await expect(hubFile('acme/model', '../other/secret.bin', { endpoint: HUB, token: TOKEN, cache, fetch: spy })).rejects.toThrow(/"\.\." segment/);
    expect(calls).toBe(0);
  });
});
