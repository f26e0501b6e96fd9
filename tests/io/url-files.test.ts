// A model folder over HTTP from a server that answers a missing path the way Vite's dev and
// preview servers do (200, text/html, the app's index.html): only the folder's own files are
// present, and a merged export's copied files are exactly those.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COPIED_FILES } from '../../src/engine/export/merged.ts';
import { isHtmlStandIn, urlModelFiles } from '../../src/engine/io/url-files.ts';

const DIR = join(import.meta.dirname, '../../public/models/tiny-kjv');
const INDEX = '<!doctype html>\n<html lang="en"><head><meta charset="UTF-8" /><title>webtune</title></head><body><div id="root"></div></body></html>\n';

/** fetch over DIR with a single-page app's fallback; `type` sets the content type files are served with. */
function spaFetch(type: (file: string) => string): typeof fetch {
  const own = new Set(readdirSync(DIR));
  return async (input) => {
    const file = String(input).split('/').pop() ?? '';
    if (own.has(file)) return new Response(readFileSync(join(DIR, file)), { status: 200, headers: { 'content-type': type(file) } });
    return new Response(INDEX, { status: 200, headers: { 'content-type': 'text/html' } });
  };
}

describe('urlModelFiles', () => {
  it('takes an HTML fallback page for a missing file, never for the file', async () => {
    const src = urlModelFiles('http://localhost/models/tiny-kjv/', 'builtin:tiny-kjv', spaFetch((f) => (f.endsWith('.json') ? 'application/json' : 'application/octet-stream')));
    const own = new Set(readdirSync(DIR));
    const present: string[] = [];
    for (const f of COPIED_FILES) if (await src.has(f)) present.push(f);
    expect(present.sort()).toEqual(COPIED_FILES.filter((f) => own.has(f)).sort());
    expect(present).toContain('tokenizer.json');
    expect(await src.has('tokenizer.model')).toBe(false);
    await expect(src.open('vocab.json')).rejects.toThrow(/no vocab\.json/);
    const cfg = await src.open('config.json');
    expect(JSON.parse(new TextDecoder().decode(await cfg.read(0, cfg.size))).model_type).toBe('llama');
  });

  it('knows an HTML page by its first bytes when the server gives no type', async () => {
    const src = urlModelFiles('http://localhost/m/', 'm', async () => new Response(INDEX, { status: 200 }));
    expect(await src.has('merges.txt')).toBe(false);
    expect(isHtmlStandIn('page.html', 'text/html', new TextEncoder().encode(INDEX))).toBe(false);
    expect(isHtmlStandIn('merges.txt', 'text/plain', new TextEncoder().encode('#version: 0.2\nĠ t\n'))).toBe(false);
    expect(isHtmlStandIn('merges.txt', null, new TextEncoder().encode('\uFEFF  <HTML><body>'))).toBe(true);
  });

  it('treats a 404 as absent', async () => {
    const src = urlModelFiles('http://localhost/m', 'm', async () => new Response('not found', { status: 404 }));
    expect(await src.has('config.json')).toBe(false);
  });
});
