// A model folder picked from disk (../shared/models/stories260K, a real pretrained Llama)
// loads in the worker and generates in the page, tokens streaming in.
import { needStories, STORIES } from './shared.ts';
import { expect, test } from '@playwright/test';

const DIR = STORIES;
needStories(test);
const FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];

test('loads a picked model folder and generates its reference story', async ({ page }, info) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto('/');
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await page.getByTestId('model-files').setInputFiles(FILES.map((f) => `${DIR}/${f}`));
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  await expect(page.getByTestId('model-summary')).toContainText('260,032');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('gen-stats')).toContainText('48 tokens');
  // llama2.c's greedy continuation of this model (reference.json): the page must show it.
  await expect(page.getByTestId('generated')).toContainText('Once upon a time, there was a little girl named Lily. She loved to play outside');
  await page.screenshot({ path: info.outputPath('studio-model.png'), fullPage: true });
  expect(errors).toEqual([]);
});
