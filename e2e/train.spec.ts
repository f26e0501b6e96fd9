// The studio's core flow on the built-in model in Chromium (WebGPU on SwiftShader): a
// malformed dataset shows its unreadable rows by line, the built-in kjv-verse-ref sample
// loads, the pre-flight memory bar turns red for a batch past the device's limits (Start
// disabled), and a LoRA and a MeZO run queued as a comparison train a few steps each with
// finite, changing losses and live memory in the charts. Nothing is logged as an error.
import { expect, test, type Page } from '@playwright/test';

const MALFORMED = [
  '{"prompt":"Genesis 1:1 chapter:","completion":" 1"}',
  '{"prompt":"Exodus 2:3 verse:", "completion": ',
  '{"prompt":"Numbers 3:21 chapter:","completion":" 3"}',
  '[1, 2, 3]',
  '',
  '{"prompt":"Luke 20:46 chapter:","completion":" 20"}',
].join('\n');

async function field(page: Page, id: string, value: string) {
  const input = page.locator(`#${id}`);
  await input.fill(value);
  await expect(input).toHaveValue(value);
}

test('trains a LoRA and a MeZO run on the built-in model and charts them', async ({ page }, info) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  // What a 1280×800 window shows with `testId`'s panel at the top.
  const shot = async (name: string, testId?: string) => {
    if (testId) await page.getByTestId(testId).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: info.outputPath(name) });
  };
  await page.goto('/');
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await expect(page.getByTestId('memory-bar')).toHaveAttribute('data-state', 'no-model');
  await shot('train-0-empty.png');

  await page.getByRole('button', { name: 'Load built-in tiny-kjv' }).click();
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');

  // A malformed upload: the bad rows are listed by line, the good ones load.
  await page.getByTestId('dataset-file').setInputFiles({ name: 'broken.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(MALFORMED) });
  await expect(page.getByTestId('dataset-name')).toHaveText('broken.jsonl');
  await expect(page.getByTestId('dataset-rows')).toHaveText('3');
  await expect(page.getByTestId('dataset-error-count')).toHaveText('2');
  const errs = page.getByTestId('dataset-errors');
  await expect(errs.locator('li[data-line="2"]')).toContainText('line 2');
  await expect(errs.locator('li[data-line="4"]')).toContainText('line 4');
  await page.getByTestId('data-panel').screenshot({ path: info.outputPath('train-1-malformed.png') });

  await page.getByRole('button', { name: 'Sample: kjv-verse-ref' }).click();
  await expect(page.getByTestId('dataset-name')).toHaveText('kjv-verse-ref.jsonl');
  await expect(page.getByTestId('dataset-rows')).toHaveText('480');
  await expect(page.getByTestId('dataset-kinds')).toContainText('480 prompt/completion');
  await page.getByLabel('Exact-match rows').fill('0');
  await shot('train-1-setup.png');

  // LoRA (the default method) from the schema-generated form.
  await expect(page.getByTestId('method-select')).toHaveValue('lora');
  await expect(page.getByLabel('Rank', { exact: true })).toHaveValue('8');
  // Ranges are enforced: rank 0 is refused with the schema's message, and nothing can start.
  await field(page, 'm-lora-rank', '0');
  await expect(page.locator('#m-lora-rank-error')).toContainText('≥ 1');
  await expect(page.getByTestId('start-run')).toBeDisabled();
  await field(page, 'm-lora-rank', '8');

  // An impossible batch: the pre-flight bar turns red with the reason, Start is disabled.
  await field(page, 'shape-B', '4096');
  await field(page, 'shape-T', '256');
  const bar = page.getByTestId('memory-bar');
  await expect(bar).toHaveAttribute('data-state', 'error');
  await expect(page.getByTestId('memory-error')).toContainText('cannot start');
  await expect(page.getByTestId('start-run')).toBeDisabled();
  await bar.screenshot({ path: info.outputPath('train-2-preflight-red.png') });

  await field(page, 'shape-B', '4');
  await field(page, 'shape-T', '24');
  await field(page, 'tr-steps', '5');
  await expect(bar).toHaveAttribute('data-state', 'ok');
  await expect(bar).toHaveAttribute('data-fresh', 'true');
  expect(Number(await bar.getAttribute('data-total'))).toBeGreaterThan(0);
  expect(Number(await bar.locator('[data-category="adapter"]').getAttribute('data-bytes'))).toBeGreaterThan(0);
  await expect(page.getByTestId('start-run')).toBeEnabled();
  await page.getByTestId('method-panel').screenshot({ path: info.outputPath('train-3-method.png') });

  // MeZO keeps its own learning rate and optimizer; the steps and batch are shared.
  await page.getByTestId('method-select').selectOption('mezo');
  await expect(page.locator('#tr-lr')).toHaveValue('0.0001');
  await expect(page.locator('#tr-optimizer')).toHaveValue('sgd');
  await expect(page.locator('#tr-steps')).toHaveValue('5');
  await page.getByTestId('method-select').selectOption('lora');
  await expect(page.locator('#tr-lr')).toHaveValue('0.002');

  // A comparison: LoRA and MeZO on the same data, one after the other.
  await page.getByTestId('queue-comparison').click();
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(2);
  const lora = rows.filter({ hasText: 'lora' }).first();
  const mezo = rows.filter({ hasText: 'mezo' }).first();
  await expect(lora).toHaveAttribute('data-phase', /running|done/, { timeout: 60_000 });
  await expect(lora).toHaveAttribute('data-step', /[1-9]/, { timeout: 120_000 });
  await shot('train-4-running.png', 'runs-panel');
  await expect(lora).toHaveAttribute('data-phase', 'done', { timeout: 150_000 });
  await expect(mezo).toHaveAttribute('data-phase', 'done', { timeout: 150_000 });

  for (const row of [lora, mezo]) {
    await expect(row).toHaveAttribute('data-step', '5');
    const first = Number(await row.getAttribute('data-first-loss'));
    const last = Number(await row.getAttribute('data-loss'));
    expect(Number.isFinite(first) && Number.isFinite(last)).toBe(true);
    expect(last).toBeGreaterThan(0);
    expect(Math.abs(first - last)).toBeGreaterThan(0);
    console.log(`${await row.locator('.run-label').textContent()}: loss ${first} → ${last}`);
  }
  const loss = page.getByTestId('loss-chart');
  await expect(loss).toHaveAttribute('data-points', '10');
  await expect(loss).toHaveAttribute('data-runs', '2');
  const lossLines = loss.locator('.recharts-line');
  expect(await lossLines.count()).toBeGreaterThanOrEqual(2);
  for (const li of await page.getByTestId('loss-summary').locator('li').all()) {
    expect(Number(await li.getAttribute('data-points'))).toBe(5);
    expect(Number.isFinite(Number(await li.getAttribute('data-last')))).toBe(true);
  }
  const mem = page.getByTestId('memory-chart');
  await expect(mem).toHaveAttribute('data-points', '5');
  expect(Number(await mem.getAttribute('data-max-total'))).toBeGreaterThan(0);
  await expect(mem.locator('.recharts-area').first()).toBeVisible();
  expect(Number(await page.getByTestId('throughput-chart').getAttribute('data-points'))).toBe(10);

  // Pause / Resume / Stop on a longer run (a one-value sweep over the learning rate).
  await field(page, 'tr-steps', '400');
  await page.getByLabel('Values').fill('1e-3');
  await page.getByTestId('queue-sweep').click();
  await expect(rows).toHaveCount(3);
  const long = rows.nth(2);
  await expect(long).toHaveAttribute('data-step', /^[1-9]/, { timeout: 60_000 });
  await long.getByRole('button', { name: /^Pause/ }).click();
  await expect(long).toHaveAttribute('data-phase', 'paused');
  const at = await long.getAttribute('data-step');
  await page.waitForTimeout(1500);
  await expect(long).toHaveAttribute('data-step', at ?? '');
  await long.getByRole('button', { name: /^Resume/ }).click();
  await expect(long).toHaveAttribute('data-phase', 'running');
  await expect.poll(async () => Number(await long.getAttribute('data-step'))).toBeGreaterThan(Number(at));
  await long.getByRole('button', { name: /^Stop/ }).click();
  await expect(long).toHaveAttribute('data-phase', 'stopped');

  // A preset fills the form and says what it needs from the model panel (QLoRA: a q4 base).
  await page.getByRole('button', { name: 'QLoRA r=8 on attention' }).click();
  await expect(page.locator('#m-lora-targets')).toHaveValue('q_proj, k_proj, v_proj, o_proj');
  await expect(page.getByTestId('preset-note')).toContainText('q4');
  await expect(page.getByTestId('preset-note')).toContainText('loaded as f32');
  await expect(bar).toHaveAttribute('data-fresh', 'true');
  await expect(page.getByTestId('start-run')).toBeEnabled();
  await page.getByTestId('method-panel').screenshot({ path: info.outputPath('train-7-preset.png') });

  await shot('train-5-done.png', 'runs-panel');
  await shot('train-5b-charts.png', 'charts-panel');
  await page.getByTestId('charts-panel').screenshot({ path: info.outputPath('train-6-charts.png') });
  expect(errors).toEqual([]);
});
