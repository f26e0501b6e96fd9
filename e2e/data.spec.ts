// The Data panel in Chromium: a Parquet file (written here with hyparquet-writer) is uploaded
// and read, bad rows listed by row number; Hub datasets come from a local server in the Hub's
// URL layout (the API's tree listing /api/datasets/<id>/tree/<rev>[/<path>], files at
// /datasets/<id>/resolve/<rev>/<file>, CORS, Range): the repo's own Parquet files, the Parquet
// conversion branch, a row limit across files, and a missing repo; and the preview shows the
// rows as the built-in model's tokenizer sees them, trained spans following the mask toggle,
// with a histogram of token lengths against T. Nothing is logged as an error.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { expect, test, type Page } from '@playwright/test';

type Column = { name: string; data: unknown[]; type?: string };
const pq = (columnData: Column[]) => Buffer.from(parquetWriteBuffer({ columnData: columnData as Parameters<typeof parquetWriteBuffer>[0]['columnData'] }));

/** Verse references: 6 rows, row 3 without a completion. */
const QA = pq([
  { name: 'prompt', data: ['Genesis 1:1 chapter:', 'Exodus 2:3 verse:', 'Numbers 3:21 chapter:', 'Luke 20:46 chapter:', 'John 3:16 verse:', 'Acts 2:4 chapter:'], type: 'STRING' },
  { name: 'completion', data: [' 1', ' 3', null, ' 20', ' 16', ' 2'], type: 'STRING' },
]);
const chat = (i: number) => [
  { role: 'user', content: `Say verse ${i}.` },
  { role: 'assistant', content: `Verse ${i} it is.` },
];
const CHAT = pq([{ name: 'messages', data: [1, 2, 3].map(chat) }]);
const big = (file: number) => pq([{ name: 'text', data: Array.from({ length: 40 }, (_, i) => `line ${file * 40 + i} of the big set`), type: 'STRING' }]);

/** repo → revision → path → bytes. */
const REPOS: Record<string, Record<string, Record<string, Buffer>>> = {
  'local/qa': { main: { 'README.md': Buffer.from('# qa\n'), 'data/train-00000-of-00001.parquet': QA, 'data/test-00000-of-00001.parquet': QA } },
  'local/jsonl-only': { main: { 'train.jsonl': Buffer.from('{"text":"x"}\n') }, 'refs/convert/parquet': { 'default/train/0000.parquet': CHAT } },
  'local/big': { main: { 'data/train-00000-of-00003.parquet': big(0), 'data/train-00001-of-00003.parquet': big(1), 'data/train-00002-of-00003.parquet': big(2) } },
};

let server: Server;
let endpoint = '';
const log: string[] = [];

function serve(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Range');
  res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, Accept-Ranges, Link');
  if (req.method === 'OPTIONS') return void res.writeHead(204).end();
  const url = new URL(req.url ?? '/', 'http://x');
  log.push(`${req.method} ${url.pathname}${url.search}${req.headers.range ? ` ${req.headers.range}` : ''}`);
  const notFound = () => void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"Repository not found"}');
  // segments are matched before decoding: a revision like refs%2Fconvert%2Fparquet is one segment
  const tree = /^\/api\/datasets\/([^/]+)\/([^/]+)\/tree\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (tree) {
    const revs = REPOS[`${tree[1]}/${tree[2]}`];
    const files = revs?.[decodeURIComponent(tree[3])];
    if (!files) return notFound();
    const under = tree[4] ? decodeURIComponent(tree[4].slice(1)) + '/' : '';
    const paths = Object.keys(files).filter((p) => p.startsWith(under));
    const dirs = [...new Set(paths.flatMap((p) => p.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))))];
    const body = [...dirs.map((path) => ({ type: 'directory', oid: '0', size: 0, path })), ...paths.map((path) => ({ type: 'file', oid: '0', size: files[path].length, path }))];
    return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }
  const file = /^\/datasets\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
  const body = file ? REPOS[`${file[1]}/${file[2]}`]?.[decodeURIComponent(file[3])]?.[decodeURIComponent(file[4])] : undefined;
  if (!body) return notFound();
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    if (start >= body.length) return void res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
    res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
    return void res.end(body.subarray(start));
  }
  res.writeHead(200, { 'Content-Length': body.length, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' });
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

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

async function openWithModel(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await page.getByRole('button', { name: 'Load built-in tiny-kjv' }).click();
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
}

async function loadHubDataset(page: Page, repo: string, rowLimit?: string): Promise<void> {
  const form = page.getByTestId('hub-dataset-form');
  await form.getByLabel('Dataset id').fill(repo);
  if (rowLimit) await form.getByLabel('Row limit').fill(rowLimit);
  if (!(await form.getByLabel('Hub server URL').isVisible())) await form.getByText('Revision and server').click();
  await form.getByLabel('Hub server URL').fill(endpoint);
  await form.getByRole('button', { name: 'Load dataset' }).click();
}

const rows = (page: Page) => page.getByTestId('preview-row');
/** The trained (highlighted) and masked text of preview row i. */
async function spans(page: Page, i: number): Promise<{ trained: string; masked: string }> {
  const row = rows(page).nth(i);
  return {
    trained: (await row.locator('[data-trained="true"]').allTextContents()).join(''),
    masked: (await row.locator('[data-trained="false"]').allTextContents()).join(''),
  };
}

test('a Parquet upload: rows read, bad rows by number, the preview follows the mask toggle and T', async ({ page }, info) => {
  const errors = watchErrors(page);
  await openWithModel(page);
  await page.getByTestId('dataset-file').setInputFiles({ name: 'verses.parquet', mimeType: 'application/vnd.apache.parquet', buffer: QA });
  await expect(page.getByTestId('dataset-name')).toHaveText('verses.parquet');
  await expect(page.getByTestId('dataset-format')).toHaveText('PARQUET');
  await expect(page.getByTestId('dataset-rows')).toHaveText('5');
  await expect(page.getByTestId('dataset-kinds')).toHaveText('5 prompt/completion');
  await expect(page.getByTestId('dataset-error-count')).toHaveText('1');
  await expect(page.getByTestId('dataset-errors').locator('li[data-line="3"]')).toContainText('row 3: "completion" must be a string (got null)');

  // The preview: the first 4 rows through the tokenizer, prompts masked by default.
  await expect(rows(page)).toHaveCount(4);
  const masked = await spans(page, 0);
  expect(masked.trained).toBe(' 1</s>');
  expect(masked.masked.replace(/\s+/g, ' ')).toBe('<s> Genesis 1:1 chapter:');
  await expect(rows(page).nth(0).getByTestId('preview-tokens')).toHaveText(/^\d+ tokens$/);
  const bars = page.getByTestId('length-bar');
  await expect(bars.first()).toBeVisible();
  const nBars = await bars.count();
  expect(nBars).toBeGreaterThan(1); // the 5 rows have different lengths
  expect(nBars).toBeLessThanOrEqual(20);
  const counts = (await bars.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))))).reduce((a, b) => a + b, 0);
  expect(counts).toBe(5);
  await expect(page.getByTestId('preview-truncated')).toHaveText('0 of 5 rows are longer than T + 1 = 65 tokens: none is cut.');
  await page.getByTestId('data-panel').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await page.getByTestId('data-panel').screenshot({ path: info.outputPath('data-panel.png') });

  // Mask off (from the keyboard): everything after BOS is trained on.
  const mask = page.getByLabel('Train on completions and assistant turns only');
  await mask.focus();
  await page.keyboard.press('Space');
  await expect(mask).not.toBeChecked();
  await expect(rows(page).nth(0).locator('[data-trained="false"]')).toHaveText('<s>');
  const unmasked = await spans(page, 0);
  expect(unmasked.trained.replace(/\s+/g, ' ').trim()).toBe('Genesis 1:1 chapter: 1</s>');
  await mask.check();
  await expect(rows(page).nth(0).locator('[data-trained="true"]')).toHaveText(' 1</s>');

  // A T that cuts every row: the count and the rows say so.
  await page.locator('#shape-T').fill('4');
  await expect(page.getByTestId('preview-truncated')).toHaveText('5 of 5 rows are longer than T + 1 = 5 tokens and would be cut (raise T, or shorten them).');
  await expect(rows(page).nth(0).getByTestId('preview-tokens')).toContainText('cut to 5');
  await page.locator('#shape-T').fill('64');
  await expect(page.getByTestId('preview-truncated')).toContainText('0 of 5 rows');
  expect(errors).toEqual([]);
});

test('Hub datasets by id: its Parquet files, the conversion branch, a row limit, and a missing repo', async ({ page }, info) => {
  const errors = watchErrors(page);
  await openWithModel(page);

  await loadHubDataset(page, 'local/qa');
  await expect(page.getByTestId('dataset-name')).toHaveText('hf:local/qa@main (train)');
  await expect(page.getByTestId('dataset-rows')).toHaveText('5');
  await expect(page.getByTestId('dataset-errors').locator('li[data-line="3"]')).toContainText('row 3');
  const dl = page.locator('[data-testid="dataset-download"][data-file="data/train-00000-of-00001.parquet"]');
  await expect(dl).toContainText(`${QA.length} B of ${QA.length} B (downloaded)`);
  await expect(page.getByTestId('dataset-download')).toHaveCount(1); // the test split is not read
  // the model panel's download list is the model's own
  await expect(page.getByTestId('downloads')).toHaveCount(0);
  await expect(rows(page)).toHaveCount(4);

  // Only JSONL on main: the Parquet conversion at refs/convert/parquet (chat rows, previewed in the plain format).
  await loadHubDataset(page, 'local/jsonl-only');
  await expect(page.getByTestId('dataset-name')).toHaveText('hf:local/jsonl-only@refs/convert/parquet (train)');
  await expect(page.getByTestId('dataset-kinds')).toHaveText('3 chat');
  await expect(rows(page)).toHaveCount(3);
  const c = await spans(page, 0);
  expect(c.trained.trim()).toBe('Verse 1 it is.\n</s>');
  expect(c.masked).toContain('user: Say verse 1.');
  expect(log.some((l) => l.startsWith('GET /api/datasets/local/jsonl-only/tree/refs%2Fconvert%2Fparquet/default/train'))).toBe(true);

  // A row limit: 50 rows of three 40-row files; the third file is never fetched.
  await loadHubDataset(page, 'local/big', '50');
  await expect(page.getByTestId('dataset-rows')).toHaveText('50');
  await expect(page.getByTestId('dataset-capped')).toHaveText('only the first 50 rows were read');
  await expect(page.getByTestId('dataset-download')).toHaveCount(2);
  expect(log.some((l) => l.includes('train-00002-of-00003'))).toBe(false);
  await page.getByTestId('data-panel').screenshot({ path: info.outputPath('data-panel-hub.png') });

  // Again: the file comes from the browser's Hub cache (only the listing is asked for).
  const asked = log.length;
  await loadHubDataset(page, 'local/qa', '50000');
  await expect(dl).toContainText('(from cache)');
  await expect(page.getByTestId('dataset-rows')).toHaveText('5');
  expect(log.slice(asked).filter((l) => l.includes('/resolve/'))).toEqual([]);
  expect(errors).toEqual([]);

  // A missing repo: an alert naming it (the browser logs the 404 itself).
  await loadHubDataset(page, 'local/missing');
  const alert = page.getByTestId('dataset-error');
  await expect(alert).toContainText('HubError');
  await expect(alert).toContainText('local/missing');
  await expect(alert).toContainText('404');
  expect(errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
});
