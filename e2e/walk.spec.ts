// The studio walked as a new user, at 390, 800 and 1280 px: the built-in model on an nf4
// base → the QLoRA preset → a run paused and resumed → a comparison on the nf4 base (MeZO
// becomes ZO-LoRA, shown in its row) → Compare → every export of every run downloaded and
// parsed (zip contents too; a merged folder holds exactly the base's own files) → the
// charts as SVG and PNG → the playground → a reload that brings the forms, the data, the
// ticked charts and the runs back. On the way: a failed dataset load keeps the dataset,
// run names are unique, one wall time and one tokens/s everywhere, no horizontal scroll,
// the keyboard reaches Start in two keys, and axe finds nothing serious or critical.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { gguf } from '@huggingface/gguf';
import { expect, test, type Download, type Page } from '@playwright/test';
import { unzipStore } from '../src/ui/persist.ts';

/** The built-in model's own files (public/models/tiny-kjv) a merged folder must hold, exactly. */
const BASE_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

function safetensorsHeader(bytes: Uint8Array): Record<string, unknown> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  expect(n % 8).toBe(0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { data_offsets: [number, number] } | Record<string, string>>;
  let end = 0;
  for (const [k, t] of Object.entries(header)) if (k !== '__metadata__' && Array.isArray(t.data_offsets)) end = Math.max(end, Number(t.data_offsets[1]));
  expect(8 + n + end).toBe(bytes.length);
  return header;
}

/** Open one exported file by what it claims to be and check it is that; returns a short note. */
async function parseFile(page: Page, name: string, bytes: Uint8Array, dir: string): Promise<string> {
  const text = () => new TextDecoder().decode(bytes);
  if (!name.endsWith('.html')) expect(text().slice(0, 200).trimStart().toLowerCase().startsWith('<!doctype html'), `${name} is an HTML page`).toBe(false);
  if (name.endsWith('.zip')) {
    const files = unzipStore(bytes);
    expect(files.length).toBeGreaterThan(0);
    const notes = [];
    for (const f of files) notes.push(await parseFile(page, f.name, f.bytes, dir));
    return `zip[${notes.join(', ')}]`;
  }
  if (name.endsWith('.json')) return (JSON.parse(text()), `${name} json`);
  if (name.endsWith('.safetensors')) return `${name} ${Object.keys(safetensorsHeader(bytes)).length} tensors`;
  if (name.endsWith('.csv')) {
    const lines = text().trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.split(',').length).toBe(lines[0].split(',').length);
    return `${name} ${lines.length} rows`;
  }
  if (name.endsWith('.gguf')) {
    const p = join(dir, `${Math.random().toString(36).slice(2)}.gguf`);
    await writeFile(p, bytes);
    const g = await gguf(p, { allowLocalFile: true });
    const type = Object.entries(g.metadata).find(([k]) => k === 'general.type')?.[1];
    expect(['adapter', 'model']).toContain(type);
    // A merged model carries its tokenizer in its metadata (llama.cpp and Ollama need it).
    if (type === 'model') expect(Object.keys(g.metadata)).toContain('tokenizer.ggml.tokens');
    expect(g.tensorInfos.length).toBeGreaterThan(0);
    return `${name} ${g.tensorInfos.length} tensors`;
  }
  if (name.endsWith('.html')) {
    // Offline: a page with nothing to fetch opens with its charts and numbers.
    const p = await page.context().newPage();
    let requests = 0;
    p.on('request', (r) => r.url().startsWith('data:') || requests++);
    await p.setContent(text());
    expect(await p.locator('svg').count()).toBeGreaterThanOrEqual(3);
    expect(await p.locator('#numbers tr').count()).toBeGreaterThan(1);
    await p.close();
    expect(requests).toBe(0);
    return `${name} html`;
  }
  if (name.endsWith('.svg')) {
    expect(text()).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(text()).toContain('</svg>');
    return `${name} svg`;
  }
  if (name.endsWith('.png')) {
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    return `${name} png`;
  }
  if (name === 'Modelfile') {
    // Ollama's Modelfile: a FROM line, and only instructions Ollama knows.
    const lines = text().split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(lines.some((l) => /^FROM \S/.test(l)), `${name} has a FROM line`).toBe(true);
    for (const l of lines) expect(l, `${name}: ${l}`).toMatch(/^(FROM|ADAPTER|PARAMETER|TEMPLATE|SYSTEM|LICENSE|MESSAGE)\b/);
    return `${name} ${lines.length} lines`;
  }
  throw new Error(`an export holds ${name}, which this walk does not know how to check`);
}

async function noHorizontalScroll(page: Page, where: string) {
  const { sw, cw, wide } = await page.evaluate(() => {
    const cw = document.documentElement.clientWidth;
    // What sticks out (outside the boxes that scroll on their own), for the message.
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > cw + 1 && !e.closest('[role=region]') && !(e.parentElement && e.parentElement.getBoundingClientRect().right > cw + 1))
      .slice(0, 5)
      .map((e) => `<${e.tagName.toLowerCase()} class="${e.getAttribute('class') ?? ''}"> to ${Math.round(e.getBoundingClientRect().right)} px: ${(e.textContent ?? '').slice(0, 40)}`);
    return { sw: document.documentElement.scrollWidth, cw, wide };
  });
  expect(sw, `${where}: the page is ${sw} px wide in a ${cw} px window (${wide.join('; ')})`).toBeLessThanOrEqual(cw);
}

async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; bytes: Uint8Array }> {
  const [d]: [Download, void] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: d.suggestedFilename(), bytes: new Uint8Array(await readFile((await d.path()) ?? '')) };
}

for (const width of [390, 800, 1280]) {
  test(`the studio walk at ${width} px`, async ({ page }, info) => {
    test.setTimeout(600_000);
    await page.setViewportSize({ width, height: 900 });
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    const shot = async (name: string) => {
      await noHorizontalScroll(page, name);
      // What the window shows (a full-page capture resizes the window for a moment, which
      // charts measure), with the panel of this moment at its top.
      await page.screenshot({ path: info.outputPath(`walk-${width}-${name}.png`) });
    };
    const dir = await mkdtemp(join(tmpdir(), 'walk-'));
    await page.goto('/');
    await expect(page.getByTestId('gpu-panel')).toBeVisible();
    await page.keyboard.press('Tab');
    await expect(page.getByTestId('skip-to-start')).toBeFocused();

    // Step 1: the built-in model on an nf4 base.
    await page.getByLabel('Base precision').selectOption('nf4');
    await page.getByRole('button', { name: 'Load built-in tiny-kjv' }).click();
    await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');

    // Step 2: a sample, then a file that cannot be read: the sample stays.
    await page.getByRole('button', { name: 'Sample: kjv-verse-ref' }).click();
    await expect(page.getByTestId('dataset-name')).toHaveText('kjv-verse-ref.jsonl');
    await page.getByTestId('dataset-file').setInputFiles({ name: 'broken.parquet', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not parquet at all') });
    await expect(page.getByTestId('dataset-error')).toBeVisible();
    await expect(page.getByTestId('dataset-kept')).toContainText('kjv-verse-ref.jsonl');
    await expect(page.getByTestId('dataset-name')).toHaveText('kjv-verse-ref.jsonl');
    await page.getByLabel('Exact-match rows').fill('0');

    // Step 3: the QLoRA preset on the nf4 base; tiny shapes.
    await page.getByRole('button', { name: 'QLoRA r=8 on attention' }).click();
    await expect(page.getByTestId('preset-note')).toContainText('loaded as nf4: ready');
    await page.locator('#shape-B').fill('2');
    await page.locator('#shape-T').fill('16');
    await page.locator('#tr-steps').fill('2');
    await page.locator('#tr-evalEvery').fill('1');
    // An error names the form's label, not a CLI flag, and marks the field.
    await page.locator('#shape-B').fill('100000');
    await expect(page.getByTestId('memory-error')).toContainText('“Batch B”');
    await expect(page.getByTestId('memory-error')).not.toContainText('--');
    await expect(page.locator('#shape-B-error')).toBeVisible();
    await page.locator('#shape-B').fill('2');
    await expect(page.getByTestId('memory-bar')).toHaveAttribute('data-state', 'ok');
    await expect(page.getByTestId('start-run')).toBeEnabled();
    await page.getByTestId('method-panel').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('1-setup');

    // Keyboard: from the skip link (the page's first Tab stop), Start is one Tab away.
    await page.getByTestId('skip-to-start').focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await expect(page.getByTestId('start-run')).toBeFocused();
    await expect(page.getByTestId('start-run')).toBeInViewport();
    // The numbered steps are links to their panels.
    await expect(page.getByRole('navigation', { name: 'Steps' }).getByRole('link')).toHaveCount(4);

    // Step 4: a comparison on the nf4 base: LoRA and MeZO both queue, MeZO as ZO-LoRA (said
    // in its row); the first is paused (shown at once) and resumed.
    await page.getByTestId('queue-comparison').click();
    const rows = page.getByTestId('run-row');
    await expect(rows).toHaveCount(2);
    await expect(page.getByTestId('comparison-skipped')).toHaveCount(0);
    await expect(rows.nth(1).getByTestId('run-note')).toContainText('ZO-LoRA');
    const first = rows.first();
    await expect(first).toHaveAttribute('data-step', /^[1-9]/, { timeout: 300_000 });
    await first.getByRole('button', { name: /^Pause/ }).click();
    await expect(first.getByTestId('run-phase')).toHaveText(/pausing…|paused/, { timeout: 1000 });
    await expect(first).toHaveAttribute('data-phase', /paused|done/, { timeout: 60_000 });
    if ((await first.getAttribute('data-phase')) === 'paused') await first.getByRole('button', { name: /^Resume/ }).click();
    await page.getByTestId('runs-panel').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('2-running');
    for (const i of [0, 1]) await expect(rows.nth(i)).toHaveAttribute('data-phase', 'done', { timeout: 240_000 });
    const labels = await rows.locator('.run-label').allTextContents();
    expect(new Set(labels).size).toBe(2);

    // Compare: the diff starts with two different runs; one tokens/s in the table and Compare.
    const table = page.getByTestId('compare-table');
    await expect(table.locator('tbody tr')).toHaveCount(2);
    await expect(page.getByTestId('config-diff')).not.toContainText(/^0 of/);
    await expect(page.getByTestId('config-diff').locator('tr[data-differs="true"]').first()).toBeVisible();
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-run') ?? ''));
    for (const id of ids) {
      const inRuns = await page.locator(`tr[data-run="${id}"] [data-testid="run-tps"]`).textContent();
      await expect(table.locator(`tr[data-run="${id}"] td[data-col="tokensPerSec"]`)).toHaveText(inRuns ?? '');
    }
    await page.getByTestId('compare').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('3-compare');

    // Every export of every run, opened and parsed; file names unique.
    const names = new Set<string>();
    for (const id of ids) {
      await expect(page.getByTestId(`stored-bytes-${id}`)).toHaveText(/\d/, { timeout: 60_000 });
      const buttons = page.getByTestId(`saved-${id}`).getByRole('group').getByRole('button');
      for (const b of await buttons.all()) {
        const f = await download(page, () => b.click());
        expect(names.has(f.name), `${f.name} downloaded twice`).toBe(false);
        names.add(f.name);
        const note = await parseFile(page, f.name, f.bytes, dir);
        // The merged folder holds exactly the base's own files; the merged GGUF, one model.gguf
        // and Ollama's Modelfile.
        if (/gguf-merged/.test(f.name)) expect(unzipStore(f.bytes).map((x) => x.name).sort()).toEqual(['Modelfile', 'model.gguf']);
        else if (/merged/.test(f.name)) expect(unzipStore(f.bytes).map((x) => x.name).sort()).toEqual(BASE_FILES);
        console.log(width, id, note);
      }
    }
    const report = await download(page, () => page.getByTestId('compare-report').click());
    await parseFile(page, report.name, report.bytes, dir);
    // Each chart as SVG and PNG.
    for (const k of ['svg', 'png']) {
      const f = await download(page, () => page.getByTestId(`chart-loss-${k}`).click());
      await parseFile(page, f.name, f.bytes, dir);
    }

    // The playground with the first run.
    const play = page.getByTestId('run-playground');
    await play.getByLabel('Tokens to add').fill('6');
    await play.getByRole('button', { name: /Run side by side/ }).click();
    await expect(play.getByTestId(`runplay-out-${ids[0]}`)).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    await shot('4-playground');

    // Accessibility: nothing serious or critical.
    const axe = await new AxeBuilder({ page }).analyze();
    const bad = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')})`)).toEqual([]);

    // A reload: the forms, the data, the ticked charts and the runs come back; the runs say
    // which base they need and offer to load it.
    await page.reload();
    await expect(page.getByTestId('gpu-panel')).toBeVisible();
    await expect(page.locator('#shape-T')).toHaveValue('16');
    await expect(page.locator('#tr-steps')).toHaveValue('2');
    await expect(page.locator('#m-lora-targets')).toHaveValue('q_proj, k_proj, v_proj, o_proj');
    await expect(page.getByLabel('Base precision')).toHaveValue('nf4');
    await expect(page.getByTestId('dataset-name')).toHaveText('kjv-verse-ref.jsonl');
    await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-runs', '2');
    await expect(table.locator('tbody tr')).toHaveCount(2);
    const kept = (await page.getByTestId('saved-runs').locator('tbody tr').first().getAttribute('data-run')) ?? '';
    await expect(page.getByTestId(`saved-state-${kept}`)).toContainText('(nf4)');
    await page.getByTestId(`load-base-${kept}`).click();
    await expect(page.getByTestId(`saved-state-${kept}`)).toContainText('ready');
    await shot('5-reloaded');
    expect(errors).toEqual([]);
  });
}
