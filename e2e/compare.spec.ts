// Two short runs on the built-in model (LoRA and MeZO, B=4 T=24, 4 steps) compared on one
// screen, an adapter exported as a real download that parses (PEFT zip: adapter_config.json
// and the safetensors header), the runs still there with their numbers after a reload, and
// restored in the worker when the model is loaded again so the playground generates with them.
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { unzipStore } from '../src/ui/persist.ts';

/** safetensors: 8-byte little-endian header length, then that many bytes of JSON. */
function safetensorsHeader(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  expect(n % 8).toBe(0);
  expect(8 + n).toBeLessThanOrEqual(bytes.length);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  delete header.__metadata__;
  let end = 0;
  for (const t of Object.values(header) as { data_offsets: [number, number] }[]) end = Math.max(end, t.data_offsets[1]);
  expect(8 + n + end).toBe(bytes.length); // offsets contiguous to the end of the file
  return header;
}

/** Each compare row's values by column, keyed by its method. */
async function compareRows(page: Page) {
  const rows = page.getByTestId('compare-table').locator('tbody tr');
  const out: Record<string, { id: string; label: string; [col: string]: string }> = {};
  for (const row of await rows.all()) {
    const id = (await row.getAttribute('data-run')) ?? '';
    const label = (await row.locator('th').textContent()) ?? '';
    const cells: Record<string, string> = {};
    for (const td of await row.locator('td').all()) cells[(await td.getAttribute('data-col')) ?? ''] = (await td.getAttribute('data-value')) ?? '';
    out[cells.method] = { id, label, ...cells };
  }
  return out;
}

test('compares a LoRA and a MeZO run, exports the adapter, keeps both across a reload, generates with a run', async ({ page }, info) => {
  test.setTimeout(600_000);
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await page.getByRole('button', { name: 'Load built-in tiny-kjv' }).click();
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  await page.getByRole('button', { name: 'Sample: kjv-verse-ref' }).click();
  await expect(page.getByTestId('dataset-rows')).toHaveText(/\d/);
  await page.getByLabel('Exact-match rows').fill('4');

  // The studio's forms: B=4, T=24, 4 steps; a LoRA + MeZO comparison.
  await page.locator('#shape-B').fill('4');
  await page.locator('#shape-T').fill('24');
  await page.locator('#tr-steps').fill('4');
  const queue = page.getByTestId('queue-comparison');
  await expect(queue).toHaveText('Queue 2 runs');
  await expect(page.getByTestId('start-blocker')).toContainText('4 steps of B=4 × T=24');
  await queue.click();

  const table = page.getByTestId('compare-table');
  await expect(table.locator('tbody tr')).toHaveCount(2, { timeout: 420_000 });
  const rows = await compareRows(page);
  expect(Object.keys(rows).sort()).toEqual(['lora', 'mezo']);
  for (const r of Object.values(rows)) {
    expect(Number(r.trainLoss)).toBeGreaterThan(0);
    expect(Number(r.trainLoss)).toBeLessThan(20);
    expect(Number(r.evalLoss)).toBeGreaterThan(0);
    expect(Number(r.peakBytes)).toBeGreaterThan(0);
    expect(Number(r.tokensPerSec)).toBeGreaterThan(0);
    expect(Number(r.wallMs)).toBeGreaterThan(0);
  }
  // LoRA trains a sliver of the 455,520-parameter base; MeZO (all weights) nearly all of it.
  expect(Number(rows.lora.params)).toBeGreaterThan(0);
  expect(Number(rows.lora.pctBase)).toBeLessThan(20);
  expect(Number(rows.mezo.params)).toBeGreaterThan(100_000);
  expect(Number(rows.mezo.params)).toBeGreaterThan(Number(rows.lora.params));
  console.log('compare rows', JSON.stringify(rows));

  // Saved with their default export (the adapter size column fills in from it).
  for (const r of Object.values(rows)) await expect(page.getByTestId(`stored-bytes-${r.id}`)).toHaveText(/\d+(\.\d+)? (B|KiB|MiB)/);
  await expect(table.locator(`tr[data-run="${rows.lora.id}"] td[data-col="adapterBytes"]`)).toHaveText(/KiB|MiB|B/);
  await expect(page.getByTestId('storage-used')).toContainText('2 runs stored');

  // Sorting by a column header button, from the keyboard.
  const sortTrain = table.getByRole('button', { name: /^Train loss/ });
  await sortTrain.focus();
  await page.keyboard.press('Enter');
  await expect(table.locator('th[aria-sort="ascending"]')).toContainText('Train loss');
  const firstRow = await table.locator('tbody tr').first().getAttribute('data-run');
  const lower = Number(rows.lora.trainLoss) <= Number(rows.mezo.trainLoss) ? rows.lora.id : rows.mezo.id;
  expect(firstRow).toBe(lower);

  // The config diff of the two runs marks the method as differing.
  const diff = page.getByTestId('config-diff');
  await diff.getByLabel('Run A').selectOption(rows.lora.id);
  await diff.getByLabel('Run B').selectOption(rows.mezo.id);
  await expect(diff.locator('tr[data-differs="true"]').first()).toBeVisible();
  await expect(diff.locator('tr[data-differs="true"] th', { hasText: /^≠ method$/ })).toHaveCount(1);
  await expect(diff.locator('tr[data-differs="false"] th', { hasText: /^data\.metricRows$/ })).toHaveCount(1);
  await expect(page.getByTestId('pareto').locator('svg .recharts-scatter-symbol').first()).toBeVisible();
  await page.getByTestId('compare').scrollIntoViewIfNeeded();
  await page.screenshot({ path: info.outputPath('compare-view.png'), fullPage: false });
  await page.screenshot({ path: info.outputPath('compare-full.png'), fullPage: true });

  // Export the LoRA adapter (PEFT: two files, so one zip) and the MeZO weights (one file).
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`export-${rows.lora.id}-peft`).click()]);
  expect(dl.suggestedFilename()).toMatch(/\.zip$/);
  const zip = new Uint8Array(await readFile((await dl.path()) ?? ''));
  const files = Object.fromEntries(unzipStore(zip).map((f) => [f.name, f.bytes]));
  expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  const config = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
  expect(config.peft_type).toBe('LORA');
  expect(config.task_type).toBe('CAUSAL_LM');
  expect(config.r).toBeGreaterThan(0);
  const header = safetensorsHeader(files['adapter_model.safetensors']);
  const keys = Object.keys(header);
  expect(keys.some((k) => /^base_model\.model\..*\.lora_A\.weight$/.test(k))).toBe(true);
  expect(keys.some((k) => /\.lora_B\.weight$/.test(k))).toBe(true);
  const a = header[keys.find((k) => k.endsWith('lora_A.weight')) ?? ''];
  expect(a.shape[0]).toBe(config.r);
  const loraValues = Object.values(header).reduce((n, t) => n + t.shape.reduce((x, y) => x * y, 1), 0);
  expect(loraValues).toBe(Number(rows.lora.params));

  const mezoFormat = (await page.getByTestId(`saved-${rows.mezo.id}`).getByRole('group').getByRole('button').first().textContent()) ?? '';
  const [dl2] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`export-${rows.mezo.id}-${mezoFormat}`).click()]);
  const mezoBytes = new Uint8Array(await readFile((await dl2.path()) ?? ''));
  if (dl2.suggestedFilename().endsWith('.safetensors')) expect(Object.keys(safetensorsHeader(mezoBytes)).length).toBeGreaterThan(0);
  console.log('downloads', dl.suggestedFilename(), zip.length, dl2.suggestedFilename(), mezoBytes.length);

  // Rename the LoRA run (kept across the reload).
  const name = page.getByLabel(`Name of run ${rows.lora.id}`);
  await name.fill('LoRA short');
  await name.press('Enter');
  await expect(table.locator(`tr[data-run="${rows.lora.id}"] th`)).toHaveText('LoRA short');

  // Reload: both runs come back from IndexedDB with the same numbers, before any model is loaded.
  await page.reload();
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await expect(table.locator('tbody tr')).toHaveCount(2);
  const after = await compareRows(page);
  for (const m of ['lora', 'mezo']) {
    for (const col of ['params', 'pctBase', 'peakBytes', 'trainLoss', 'evalLoss', 'wallMs', 'adapterBytes']) expect(after[m][col], `${m} ${col}`).toBe(rows[m][col]);
  }
  expect(after.lora.label).toBe('LoRA short');
  // The default export still downloads from storage, without the model.
  const [dl3] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`export-${after.lora.id}-peft`).click()]);
  expect(unzipStore(new Uint8Array(await readFile((await dl3.path()) ?? ''))).map((f) => f.name).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  // The run report comes from what the page kept: config, environment, metrics as JSON and CSV.
  const [dlr] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`export-${after.lora.id}-report`).click()]);
  const report = Object.fromEntries(unzipStore(new Uint8Array(await readFile((await dlr.path()) ?? ''))).map((f) => [f.name, new TextDecoder().decode(f.bytes)]));
  expect(Object.keys(report).sort()).toEqual(['metrics.csv', 'metrics.json', 'report.json']);
  const rj = JSON.parse(report['report.json']) as { config: { method: string }; environment: { host: string }; summary: { steps: number } };
  expect(rj).toMatchObject({ config: { method: 'lora' }, environment: { host: 'browser' }, summary: { steps: 4 } });
  expect(report['metrics.csv'].trim().split('\n').length).toBeGreaterThan(4); // a header and the 4 steps (+ evals)

  // Loading the model they trained on restores them in the worker: the playground offers them.
  await page.getByRole('button', { name: 'Load built-in tiny-kjv' }).click();
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  const play = page.getByTestId('run-playground');
  await expect(play.getByTestId(`runplay-pick-${after.lora.id}`)).toBeVisible();
  await expect(play.getByTestId(`runplay-pick-${after.mezo.id}`)).toBeVisible();
  await play.getByTestId(`runplay-pick-${after.mezo.id}`).uncheck();
  await play.getByLabel('Text to continue').fill('And God said');
  await play.getByLabel('Tokens to add').fill('12');
  const tryItBefore = (await page.getByTestId('generated').textContent()) ?? '';
  await play.getByRole('button', { name: 'Run side by side (2)' }).click();
  for (const t of ['base', after.lora.id]) {
    await expect(play.getByTestId(`runplay-out-${t}`)).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    await expect(play.getByTestId(`runplay-stats-${t}`)).toContainText(/[1-9]\d* tokens in/);
    const text = (await play.getByTestId(`runplay-text-${t}`).textContent()) ?? '';
    expect(text.startsWith('And God said')).toBe(true);
    expect(text.length).toBeGreaterThan('And God said'.length);
  }
  // The playground's tokens are tagged as its own: none leak into the "Try it" panel.
  expect((await page.getByTestId('generated').textContent()) ?? '').toBe(tryItBefore);
  await play.scrollIntoViewIfNeeded();
  await page.screenshot({ path: info.outputPath('playground.png'), fullPage: false });
  await page.screenshot({ path: info.outputPath('after-reload-full.png'), fullPage: true });

  // An export the worker makes again after the restore.
  const [dl4] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`export-${after.lora.id}-peft`).click()]);
  expect(unzipStore(new Uint8Array(await readFile((await dl4.path()) ?? ''))).length).toBe(2);

  // Delete the MeZO run: gone from the page and from storage (not back after a reload).
  await page.getByRole('button', { name: `Delete run ${after.mezo.label}` }).click();
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await page.reload();
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('storage-used')).toContainText('1 run stored');
  expect(errors).toEqual([]);
});
