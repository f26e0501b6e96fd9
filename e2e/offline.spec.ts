// Nothing leaves the machine unasked (issue 15, item 8): every request of a whole walk (open
// the studio, load the built-in model, a sample dataset, a short LoRA run, generate from it)
// is recorded, the page's and its worker's, and any host other than the app's fails the
// spec. The page carries its Content-Security-Policy (meta tag and header), and the walk
// runs under it without a violation.
import { expect, test } from '@playwright/test';

test('a whole walk talks only to the app itself, under its Content-Security-Policy', async ({ page, context, baseURL }) => {
  test.setTimeout(240_000);
  const app = new URL(baseURL ?? 'http://localhost').origin;
  const requests: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));

  const response = await page.goto('/');
  const header = response?.headers()['content-security-policy'] ?? '';
  expect(header).toContain("script-src 'self'");
  const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(meta).toContain("default-src 'self'");
  expect(meta).toContain("object-src 'none'");

  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await page.getByRole('button', { name: 'Load built-in tiny-kjv' }).click();
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  await page.getByRole('button', { name: 'Sample: kjv-verse-ref' }).click();
  await expect(page.getByTestId('dataset-rows')).toHaveText('480');
  await page.getByLabel('Exact-match rows').fill('0');
  for (const [id, v] of [['shape-B', '4'], ['shape-T', '24'], ['tr-steps', '3']]) await page.locator(`#${id}`).fill(v);
  await expect(page.getByTestId('memory-bar')).toHaveAttribute('data-state', 'ok');
  await page.getByTestId('start-run').click();
  const row = page.getByTestId('run-row').first();
  await expect(row).toHaveAttribute('data-phase', 'done', { timeout: 180_000 });
  await page.getByLabel('Prompt').first().fill('And God said');
  await page.getByRole('button', { name: 'Generate' }).first().click();
  await expect(page.getByTestId('gen-stats').first()).toContainText('tokens in');

  // The worker's own fetches are among those recorded (it reads the model's files).
  expect(requests.some((u) => u.includes('/models/tiny-kjv/model.safetensors'))).toBe(true);
  const foreign = requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== app);
  expect(foreign, `requests to other hosts than ${app}`).toEqual([]);
  expect(errors.filter((e) => /Content Security Policy|Refused to/i.test(e)), 'CSP violations').toEqual([]);
  expect(errors).toEqual([]);
});
