// The built-in model (public/models/tiny-kjv, pretrained by scripts/pretrain-builtin.py)
// loads with one click and writes King James English in the page.
import { expect, test } from '@playwright/test';

test('loads the built-in model and generates from it', async ({ page }, info) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto('/');
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await page.getByRole('button', { name: 'Load built-in tiny-kjv' }).click();
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  // The summary's bytes at each precision: f32 is what the ledger measured for this f32 load.
  await expect(page.getByTestId('bytes-by-precision')).toHaveText('f32 1.7 MiB · q8 475.2 KiB · q4 253.2 KiB · nf4 253.2 KiB');
  await page.getByLabel('Prompt').fill('And God said');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('gen-stats')).toContainText('tokens in');
  const text = (await page.getByTestId('generated').textContent()) ?? '';
  // Words of the training text, not byte soup: most generated words are in the KJV's vocabulary.
  expect(text).toMatch(/^And God said\s/); // the continuation joins the prompt with its space
  const words = text.replace('And God said', '').split(/\W+/).filter(Boolean);
  expect(words.length).toBeGreaterThan(5);
  const common = new Set(['and', 'the', 'of', 'unto', 'he', 'that', 'to', 'in', 'shall', 'lord', 'god', 'his', 'i', 'a', 'for', 'them', 'is', 'be', 'they', 'not', 'him', 'said', 'all', 'with', 'thou', 'which', 'was', 'thy', 'my', 'me', 'ye', 'it', 'thee', 'as', 'from', 'upon', 'are', 'were', 'by', 'out', 'her', 'have', 'this', 'israel', 'when', 'king', 'man', 'people', 'son', 'day', 'house', 'children', 'up', 'also', 'there', 'into', 'land', 'hath']);
  expect(words.filter((w) => common.has(w.toLowerCase())).length).toBeGreaterThanOrEqual(Math.ceil(words.length / 4));
  await page.screenshot({ path: info.outputPath('studio-builtin.png'), fullPage: true });
  expect(errors).toEqual([]);
});
