// Hub models in the page: a local server in the Hub's URL layout (/<owner>/<name>/resolve/<rev>/<file>,
// Content-Length, Range, CORS) stands in for huggingface.co through the form's Advanced → Endpoint.
// The files land in the Origin Private File System and come from there after a reload; a missing
// or gated repo says which repo and file; a folder's files dropped on the Model panel load too.
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { needStories, STORIES } from './shared.ts';
import { expect, test, type Page } from '@playwright/test';

const DIR = STORIES;
needStories(test);
/** The files a load reads (config, weights, tokenizer and its configs). */
const FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
const REPOS: Record<string, string> = { 'local/stories260K': DIR, 'local/gated': DIR, 'local/flaky': DIR };
const TOKEN = 'hf_test_token';

let server: Server;
let endpoint = '';
/** Requests the server answered, as "METHOD path [range]". */
const log: string[] = [];
const auth: string[] = [];
let brokeOff = false;

function serve(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Range');
  res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
  res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, Accept-Ranges');
  if (req.method === 'OPTIONS') {
    res.writeHead(204).end();
    return;
  }
  const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
  log.push(`${req.method} ${req.url}${req.headers.range ? ` ${req.headers.range}` : ''}`);
  const dir = m ? REPOS[m[1]] : undefined;
  if (!m || !dir || m[2] !== 'main' || m[3].includes('..')) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Repository not found');
    return;
  }
  if (m[1] === 'local/gated') {
    auth.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('Access to this repo is restricted');
      return;
    }
  }
  const path = `${dir}/${m[3]}`;
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Entry not found');
    return;
  }
  const body = req.method === 'HEAD' ? undefined : readFileSync(path);
  if (m[1] === 'local/flaky' && m[3] === 'model.safetensors' && req.method === 'GET' && !req.headers.range && !brokeOff) {
    // The connection drops part-way through the first download of the weights.
    brokeOff = true;
    res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' });
    res.write(body?.subarray(0, size >> 1));
    setTimeout(() => res.destroy(), 300);
    return;
  }
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Accept-Ranges': 'bytes' });
    res.end(body?.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' });
  res.end(body);
}

test.beforeAll(async () => {
  server = createServer(serve);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('the test Hub has no port');
  endpoint = `http://127.0.0.1:${addr.port}`;
});

test.afterAll(async () => {
  await new Promise((ok) => server.close(ok));
});

function fmt(n: number): string {
  // The page's fmtBytes (src/engine/gpu/arena.ts) for the sizes here.
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

async function openStudio(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
}

async function loadFromHub(page: Page, repo: string, token?: string): Promise<void> {
  await page.getByLabel('Repo id').fill(repo);
  if (token !== undefined) await page.getByLabel('Access token').fill(token);
  if (!(await page.getByLabel('Endpoint').isVisible())) await page.getByText('Advanced').click();
  await page.getByLabel('Endpoint').fill(endpoint);
  await page.getByRole('button', { name: 'Load from Hub' }).click();
}

const download = (page: Page, file: string) => page.locator(`[data-testid="download"][data-file="${file}"]`);

test('loads a Hub repo by id into the cache, again from the cache after a reload, and clears it', async ({ page }, info) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const start = log.length;
  await openStudio(page);
  await expect(page.getByTestId('cache-usage')).toHaveText('Cached Hub files: 0 B');

  await loadFromHub(page, 'local/stories260K');
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  await expect(page.getByTestId('model-summary')).toContainText('hf:local/stories260K@main');
  await expect(page.getByTestId('model-summary')).toContainText('260,032');
  for (const f of FILES) {
    const size = statSync(`${DIR}/${f}`).size;
    await expect(download(page, f)).toContainText(`${fmt(size)} of ${fmt(size)} (downloaded)`);
  }
  const total = FILES.reduce((n, f) => n + statSync(`${DIR}/${f}`).size, 0);
  await expect(page.getByTestId('cache-usage')).toHaveText(`Cached Hub files: ${fmt(total)}`);
  expect(log.slice(start).filter((l) => l.startsWith('GET')).length).toBe(FILES.length);

  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('gen-stats')).toContainText('48 tokens');
  await expect(page.getByTestId('generated')).toContainText('Once upon a time, there was a little girl named Lily. She loved to play outside');
  await page.screenshot({ path: info.outputPath('studio-hub.png'), fullPage: true });

  // A new page (and worker) in the same browser context: every file comes from OPFS.
  const asked = log.length;
  await page.reload();
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await expect(page.getByTestId('cache-usage')).toHaveText(`Cached Hub files: ${fmt(total)}`);
  await loadFromHub(page, 'local/stories260K');
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  for (const f of FILES) await expect(download(page, f)).toContainText('(from cache)');
  expect(log.slice(asked)).toEqual([]);

  await page.getByRole('button', { name: 'Clear cache' }).click();
  await expect(page.getByTestId('cache-usage')).toHaveText('Cached Hub files: 0 B');
  expect(errors).toEqual([]);
});

test('a missing repo and a gated one say which repo and file; a token opens the gated one and can be forgotten', async ({ page }) => {
  await openStudio(page);
  // From the keyboard: open Advanced with Enter on its summary, submit with Enter in the form.
  await page.getByText('Advanced').focus();
  await page.keyboard.press('Enter');
  await page.getByLabel('Endpoint').fill(endpoint);
  await page.getByLabel('Repo id').fill('local/missing');
  await page.getByLabel('Repo id').press('Enter');
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('HubError');
  await expect(alert).toContainText('config.json');
  await expect(alert).toContainText('local/missing');
  await expect(alert).toContainText('404');

  await loadFromHub(page, 'local/gated');
  await expect(alert).toContainText('local/gated/config.json');
  await expect(alert).toContainText('gated');
  expect(auth.at(-1)).toBe('');

  await loadFromHub(page, 'local/gated', TOKEN);
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  expect(auth.at(-1)).toBe(`Bearer ${TOKEN}`);
  expect(await page.evaluate(() => Object.values(localStorage))).toContain(TOKEN);
  await page.getByRole('button', { name: 'Forget token' }).click();
  await expect(page.getByLabel('Access token')).toHaveValue('');
  expect(await page.evaluate(() => Object.values(localStorage))).not.toContain(TOKEN);
});

test('a model folder’s files dropped on the Model panel load and generate', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await openStudio(page);
  // A drop built in the page from File objects (directory entries cannot be synthesized):
  // the built-in model's files, fetched from the app's own origin.
  const dt = await page.evaluateHandle(async (files) => {
    const t = new DataTransfer();
    for (const f of files) t.items.add(new File([await (await fetch(`/models/tiny-kjv/${f}`)).blob()], f));
    return t;
  }, FILES);
  const panel = page.getByTestId('model-panel');
  await panel.dispatchEvent('dragenter', { dataTransfer: dt });
  await panel.dispatchEvent('dragover', { dataTransfer: dt });
  await panel.dispatchEvent('drop', { dataTransfer: dt });
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  await expect(page.getByTestId('model-summary')).toContainText('455,520');
  await page.getByLabel('Prompt').fill('And God said');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('gen-stats')).toContainText('tokens in');
  expect(errors).toEqual([]);
});

test('a download that broke off resumes from the bytes kept in the cache', async ({ page }) => {
  const size = statSync(`${DIR}/model.safetensors`).size;
  await openStudio(page);
  await loadFromHub(page, 'local/flaky');
  await expect(page.getByRole('alert')).toContainText('local/flaky/model.safetensors');
  await expect(page.getByRole('alert')).toContainText('resume');
  expect(brokeOff).toBe(true);
  const start = log.length;
  await page.getByRole('button', { name: 'Load from Hub' }).click();
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  const resumed = log.slice(start).filter((l) => l.startsWith('GET /local/flaky/resolve/main/model.safetensors'));
  expect(resumed).toHaveLength(1);
  const from = Number(/bytes=(\d+)-$/.exec(resumed[0])?.[1]);
  expect(from).toBeGreaterThan(0);
  expect(from).toBeLessThan(size);
  await expect(download(page, 'model.safetensors')).toContainText(`${fmt(size)} of ${fmt(size)} (downloaded)`);
  // Whole and byte-exact: the weights give the reference story.
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('generated')).toContainText('Once upon a time, there was a little girl named Lily.');
});
