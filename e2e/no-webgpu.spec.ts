// Without WebGPU the page explains what is missing and what to do; it is never blank.
import { expect, test } from '@playwright/test';

test('explains a missing WebGPU with advice', async ({ page }, info) => {
  await page.goto('/');
  const panel = page.getByTestId('gpu-unavailable');
  await expect(panel).toBeVisible();
  await expect(panel.getByRole('heading')).toHaveText('WebGPU is not available in this browser');
  await expect(panel).toContainText(/Chrome|chrome:\/\/gpu/);
  await expect(panel.getByRole('button', { name: 'Try again' })).toBeVisible();
  await page.screenshot({ path: info.outputPath('studio-no-webgpu.png'), fullPage: true });
});
