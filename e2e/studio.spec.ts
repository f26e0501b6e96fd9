// The studio in Chromium with WebGPU on SwiftShader: the worker finds the adapter, a kernel
// runs in the worker and matches its reference, and nothing is logged as an error.
import { expect, test } from '@playwright/test';

test('shows the adapter, runs a kernel in the worker, logs no errors', async ({ page }, info) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  // A missing adapter shows the unavailable panel instead: that is a failure here, never a skip.
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await expect(page.getByTestId('gpu-unavailable')).toHaveCount(0);
  expect((await page.getByTestId('gpu-vendor').textContent())?.trim()).toBeTruthy();
  expect((await page.getByTestId('gpu-architecture').textContent())?.trim()).toBeTruthy();
  for (const f of ['shader-f16', 'subgroups', 'timestamp-query']) {
    await expect(page.locator(`[data-feature="${f}"]`)).toHaveAttribute('data-present', /true|false/);
  }
  await expect(page.locator('[data-limit="maxStorageBufferBindingSize"]')).toHaveText(/\d+(\.\d+)? (B|KiB|MiB|GiB)/);

  await page.getByRole('button', { name: 'Run kernel self-test' }).click();
  const err = page.getByTestId('selftest-error');
  await expect(err).toBeVisible();
  const maxAbsError = Number(await err.textContent());
  expect(maxAbsError).toBeGreaterThanOrEqual(0);
  expect(maxAbsError).toBeLessThan(1e-5);
  // The ledger counted the self-test's buffers (its peak went up) and freed them.
  await expect(page.getByTestId('ledger')).toContainText('scratch');

  await page.screenshot({ path: info.outputPath('studio-adapter.png'), fullPage: true });
  expect(errors).toEqual([]);
});
