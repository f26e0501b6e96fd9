// Without WebGPU the page explains what is missing and what to do; it is never blank.
// This project's chromium runs without --enable-unsafe-webgpu: on Linux without a GPU
// navigator.gpu exists but offers no adapter (--disable-features=WebGPU does not remove it).
// navigator.gpu itself is missing outside a secure context, so the second test serves the
// same build from a plain-http origin that is not localhost.
import { expect, test, type Page } from '@playwright/test';

function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

async function expectUnavailablePanel(page: Page, advice: RegExp): Promise<void> {
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('webtune');
  const panel = page.getByTestId('gpu-unavailable');
  await expect(panel).toBeVisible();
  await expect(panel.getByRole('heading')).toHaveText('WebGPU is not available in this browser');
  await expect(panel).toContainText(advice);
  await expect(panel.getByRole('button', { name: 'Try again' })).toBeVisible();
  await expect(page.getByTestId('gpu-panel')).toHaveCount(0);
}

test('explains a missing adapter with advice', async ({ page }, info) => {
  const errors = collectErrors(page);
  await page.goto('/');
  await expectUnavailablePanel(page, /offers no GPU adapter.*chrome:\/\/gpu/);
  await page.screenshot({ path: info.outputPath('studio-no-adapter.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('explains a missing navigator.gpu with advice', async ({ page }, info) => {
  const errors = collectErrors(page);
  const origin = 'http://webtune.test';
  const served = new URL(info.project.use.baseURL ?? 'http://localhost:4173');
  // Every request to the insecure origin (page, assets, worker) is answered from the build.
  await page.context().route(`${origin}/**`, async (route) => {
    const url = new URL(route.request().url());
    await route.fulfill({ response: await route.fetch({ url: new URL(url.pathname + url.search, served).href }) });
  });
  await page.goto(`${origin}/`);
  expect(await page.evaluate(() => isSecureContext)).toBe(false);
  await expectUnavailablePanel(page, /does not expose WebGPU.*--enable-unsafe-webgpu.*https or from localhost/);
  await page.screenshot({ path: info.outputPath('studio-no-webgpu.png'), fullPage: true });
  expect(errors).toEqual([]);
});
