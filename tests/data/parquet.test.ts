// Parquet datasets (written here with hyparquet-writer, the companion of the reader), the
// Hub's dataset file listing (a fake fetch in the Hub API's shapes), and the preview of what
// the model sees: trained / masked spans decoded with the built-in model's tokenizer.

import { parquetWriteBuffer } from 'hyparquet-writer';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHubParquet } from '../../src/engine/data/hub-dataset.ts';
import { nodeDirCache } from '../../src/engine/io/node-cache.ts';
import type { HubProgress } from '../../src/engine/io/hub.ts';
import { renderPlainChat } from '../../src/engine/data/dataset.ts';
import { parseParquet } from '../../src/engine/data/parquet.ts';
import { loadTokenizer, TextTokenizer } from '../../src/engine/data/tokenizer.ts';
import { hubDatasetParquetFiles, HubError } from '../../src/engine/io/hub.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { exampleSegments, RunManager, type LoadedBase, type RunHost } from '../../src/engine/runs.ts';

const MODEL = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;

function parquet(columns: { name: string; data: unknown[]; type?: string }[]): Uint8Array {
  return new Uint8Array(parquetWriteBuffer({ columnData: columns as Parameters<typeof parquetWriteBuffer>[0]['columnData'] }));
}

describe('parseParquet', () => {
  it('reads prompt/completion rows, lists bad rows by row number and keeps the rest', async () => {
    const bytes = parquet([
      { name: 'question', data: ['Genesis 1:1 chapter:', 'Exodus 2:3 verse:', 'Numbers 3:21 chapter:', 'Luke 20:46 chapter:'], type: 'STRING' },
      { name: 'answer', data: [' 1', null, ' 3', ''], type: 'STRING' },
      { name: 'id', data: [1n, 2n, 3n, 4n], type: 'INT64' },
    ]);
    const p = await parseParquet('qa.parquet', bytes);
    expect(p.format).toBe('parquet');
    expect(p.rows).toEqual([
      { kind: 'prompt', prompt: 'Genesis 1:1 chapter:', completion: ' 1' },
      { kind: 'prompt', prompt: 'Numbers 3:21 chapter:', completion: ' 3' },
    ]);
    expect(p.errors.map((e) => e.line)).toEqual([2, 4]);
    expect(p.errors[0].message).toContain('"answer" must be a string (got null)');
    expect(p.errors[1].message).toContain('"answer" is empty');
    expect(p.capped).toBeUndefined();
  });

  it('reads chat rows from a list-of-struct column, honours a mapping, and caps the rows', async () => {
    const conv = (i: number) => [
      { role: 'user', content: `Question ${i}?` },
      { role: 'assistant', content: `Answer ${i}.` },
    ];
    const bytes = parquet([
      { name: 'messages', data: [conv(1), conv(2), conv(3)] },
      { name: 'body', data: ['one', 'two', 'three'], type: 'STRING' },
    ]);
    const chat = await parseParquet('chat.parquet', bytes);
    expect(chat.rows).toHaveLength(3);
    expect(chat.rows[1]).toEqual({ kind: 'chat', messages: conv(2) });
    const text = await parseParquet('chat.parquet', bytes, { text: 'body' }, { maxRows: 2 });
    expect(text.rows).toEqual([{ kind: 'text', text: 'one' }, { kind: 'text', text: 'two' }]);
    expect(text.capped).toEqual({ at: 2, total: 3 });
  });

  it('throws on bytes that are not Parquet, naming the file', async () => {
    await expect(parseParquet('notes.parquet', new TextEncoder().encode('{"text":"hi"}\n'))).rejects.toThrow(/notes\.parquet is not a readable Parquet file/);
  });
});

describe('hubDatasetParquetFiles', () => {
  const tree: Record<string, unknown[]> = {
    '/api/datasets/acme/qa/tree/main': [
      { type: 'file', path: 'README.md', size: 10 },
      { type: 'directory', path: 'data' },
      { type: 'file', path: 'data/train-00001-of-00002.parquet', size: 200 },
      { type: 'file', path: 'data/train-00000-of-00002.parquet', size: 100 },
      { type: 'file', path: 'data/test-00000-of-00001.parquet', size: 50 },
    ],
    '/api/datasets/acme/jsonl-only/tree/main': [{ type: 'file', path: 'train.jsonl', size: 10 }],
    '/api/datasets/acme/jsonl-only/tree/refs%2Fconvert%2Fparquet/default/train': [{ type: 'file', path: 'default/train/0000.parquet', size: 70 }],
  };
  const fakeFetch = (async (url: string) => {
    const u = new URL(url);
    const body = tree[u.pathname];
    expect(u.searchParams.get('recursive')).toBe('true');
    return body ? new Response(JSON.stringify(body), { status: 200 }) : new Response('Repository not found', { status: 404 });
  }) as typeof fetch;
  const opts = { endpoint: 'http://hub.test', fetch: fakeFetch };

  it("lists a split's Parquet files in order, and falls back to the Parquet conversion branch", async () => {
    expect(await hubDatasetParquetFiles('acme/qa', opts)).toEqual({
      revision: 'main',
      files: [
        { path: 'data/train-00000-of-00002.parquet', size: 100 },
        { path: 'data/train-00001-of-00002.parquet', size: 200 },
      ],
    });
    expect((await hubDatasetParquetFiles('acme/qa', { ...opts, split: 'test' })).files.map((f) => f.path)).toEqual(['data/test-00000-of-00001.parquet']);
    expect(await hubDatasetParquetFiles('acme/jsonl-only', opts)).toEqual({ revision: 'refs/convert/parquet', files: [{ path: 'default/train/0000.parquet', size: 70 }] });
  });

  it('a missing repo and a missing split are HubErrors naming the repo', async () => {
    const missing = hubDatasetParquetFiles('acme/missing', opts);
    await expect(missing).rejects.toBeInstanceOf(HubError);
    await expect(missing).rejects.toThrow(/no dataset acme\/missing at revision "main" \(HTTP 404\)/);
    await expect(hubDatasetParquetFiles('acme/qa', { ...opts, split: 'validation' })).rejects.toThrow(/acme\/qa .*split "validation"/);
  });
});

describe('loadHubParquet', () => {
  const big = (f: number) => parquet([{ name: 'text', data: Array.from({ length: 40 }, (_, i) => `row ${f * 40 + i}`), type: 'STRING' }]);
  const files: Record<string, Uint8Array> = { 'data/train-00000-of-00003.parquet': big(0), 'data/train-00001-of-00003.parquet': big(1), 'data/train-00002-of-00003.parquet': big(2) };
  const asked: string[] = [];
  const fakeFetch = (async (url: string) => {
    const u = new URL(url);
    asked.push(u.pathname);
    if (u.pathname === '/api/datasets/acme/big/tree/main') return new Response(JSON.stringify(Object.entries(files).map(([path, b]) => ({ type: 'file', path, size: b.length }))));
    const m = /^\/datasets\/acme\/big\/resolve\/main\/(.+)$/.exec(u.pathname);
    const body = m ? files[decodeURIComponent(m[1])] : undefined;
    return body ? new Response(new Uint8Array(body), { headers: { 'content-length': String(body.length) } }) : new Response('Entry not found', { status: 404 });
  }) as typeof fetch;

  it('reads file by file up to the row cap, fetching no file past it, then serves from the cache', async () => {
    const cache = nodeDirCache(mkdtempSync(join(tmpdir(), 'webtune-hubdata-')));
    const progress: HubProgress[] = [];
    const opts = { endpoint: 'http://hub.test', fetch: fakeFetch, cache, onProgress: (p: HubProgress) => progress.push(p) };
    asked.length = 0;
    const a = await loadHubParquet({ repo: 'acme/big', maxRows: 50 }, opts);
    expect(a.name).toBe('hf:acme/big@main');
    expect(a.parsed.rows).toHaveLength(50);
    expect(a.parsed.rows[49]).toEqual({ kind: 'text', text: 'row 49' });
    expect(a.parsed.capped).toEqual({ at: 50 }); // a file was left unread: the total is unknown
    expect(asked.filter((p) => p.includes('/resolve/'))).toHaveLength(2);
    expect(progress.filter((p) => !p.fromCache).map((p) => p.file)).toContain('data/train-00001-of-00003.parquet');
    const b = await loadHubParquet({ repo: 'acme/big', maxRows: 100, split: 'train' }, opts);
    expect(b.name).toBe('hf:acme/big@main (train)');
    expect(b.parsed.rows).toHaveLength(100);
    expect(b.parsed.capped).toEqual({ at: 100, total: 120 });
    expect(progress.filter((p) => p.fromCache).map((p) => p.file)).toEqual(['data/train-00000-of-00003.parquet', 'data/train-00001-of-00003.parquet']);
    const c = await loadHubParquet({ repo: 'acme/big' }, opts);
    expect(c.parsed.rows).toHaveLength(120);
    expect(c.parsed.capped).toBeUndefined();
  });
});

describe('preview', () => {
  let tok: TextTokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(nodeModelDir(MODEL), [2]);
  });
  const manager = (base: Partial<LoadedBase> | undefined) => new RunManager({ base: () => base as LoadedBase | undefined } as unknown as RunHost);

  it('splits each row into trained and masked spans that follow the mask toggle, with lengths and truncation', async () => {
    const runs = manager({ tokenizer: tok });
    const ds = runs.addParsed('x.parquet', {
      format: 'parquet',
      errors: [],
      rows: [
        { kind: 'prompt', prompt: 'Genesis 1:1 chapter:', completion: ' 1' },
        { kind: 'chat', messages: [{ role: 'user', content: 'Who is my shepherd?' }, { role: 'assistant', content: 'The LORD.' }] },
        { kind: 'text', text: 'In the beginning God created the heaven and the earth.' },
      ],
    });
    const masked = runs.preview(ds.id, { maskPrompt: true, maxTokens: 65 });
    expect(masked.rows).toHaveLength(3);
    const [p, c, t] = masked.rows;
    const joined = (r: typeof p) => r.segments.map((s) => s.text).join('');
    const trainedText = (r: typeof p) => r.segments.filter((s) => s.trained).map((s) => s.text).join('');
    // specials are shown: the model sees BOS and EOS
    expect(joined(p)).toBe(tok.decode(tok.encode('Genesis 1:1 chapter: 1'), false) + '</s>');
    expect(trainedText(p)).toBe(' 1</s>');
    expect(p.segments[0].trained).toBe(false);
    expect(joined(c)).toContain(renderPlainChat([{ role: 'user', content: 'Who is my shepherd?' }, { role: 'assistant', content: 'The LORD.' }]).trim());
    expect(trainedText(c).trim()).toBe('The LORD.\n</s>');
    expect(t.segments.filter((s) => !s.trained).map((s) => s.text).join('')).toBe('<s>'); // only BOS is never a target
    const unmasked = runs.preview(ds.id, { maskPrompt: false, maxTokens: 65 });
    expect(trainedText(unmasked.rows[0])).toBe(joined(p).replace(/^<s>/, ''));
    expect(masked.histogram.counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(masked.truncated).toBe(0);
    expect(masked.counted).toBe(3);
    // a T that cuts the text row: its preview stops at maxTokens tokens
    const cut = runs.preview(ds.id, { maskPrompt: true, maxTokens: 6 });
    expect(cut.truncated).toBe(3);
    expect(cut.rows[2].truncated).toBe(true);
    expect(cut.rows[2].tokens).toBe(t.tokens);
    expect(tok.encode(cut.rows[2].segments.map((s) => s.text).join(''), false).length).toBeLessThanOrEqual(7);
  });

  it("renders chat rows through the tokenizer's chat template, the assistant turn with its end-of-turn trained", () => {
    const CHATML = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    const cfg = JSON.stringify({ ...JSON.parse(readFileSync(`${MODEL}/tokenizer_config.json`, 'utf8')), chat_template: CHATML });
    const chat = TextTokenizer.load(readFileSync(`${MODEL}/tokenizer.json`, 'utf8'), cfg, [2]);
    const runs = manager({ tokenizer: chat });
    const ds = runs.addParsed('c.parquet', { format: 'parquet', errors: [], rows: [{ kind: 'chat', messages: [{ role: 'user', content: 'Who is my shepherd?' }, { role: 'assistant', content: 'The LORD.' }] }] });
    const [r] = runs.preview(ds.id, { maskPrompt: true, maxTokens: 200 }).rows;
    const all = r.segments.map((x) => x.text).join('').replaceAll('\u2581', ' ');
    expect(all).toBe('<|im_start|>user\nWho is my shepherd?<|im_end|>\n<|im_start|>assistant\nThe LORD.<|im_end|>\n');
    const trained = r.segments.filter((x) => x.trained).map((x) => x.text).join('').replaceAll('\u2581', ' ');
    expect(trained).toMatch(/^\s?The LORD\.<\|im_end\|>\n$/);
  });

  it('needs a loaded model', () => {
    const runs = manager(undefined);
    const ds = runs.addDataset('a.txt', 'hello');
    expect(() => runs.preview(ds.id, { maskPrompt: true, maxTokens: 65 })).toThrow(/No model is loaded/);
  });

  it('exampleSegments decodes the growth of the prefix (word-start spaces kept)', () => {
    const ids = tok.encode('And God said, Let there be light', true);
    const loss = ids.map((_, i) => (i >= 3 ? 1 : 0));
    const segs = exampleSegments(ids, loss, tok);
    expect(segs.map((s) => s.text).join('')).toBe(tok.decode(ids, false));
    expect(segs.map((s) => s.trained)).toEqual([false, true]);
  });
});
