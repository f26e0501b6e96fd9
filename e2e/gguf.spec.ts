// A GGUF model file (stories260K as llama.cpp would hold it, Q8_0, written by
// scripts/hf-to-gguf.ts) picked alone in the page: it loads as the model, its tokenizer
// and config from the file's metadata, and generates the model's reference story.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needStories, STORIES } from './shared.ts';
import { expect, test } from '@playwright/test';

needStories(test);

test('a picked .gguf file is the model: it loads and generates its reference story', async ({ page }) => {
  const file = join(mkdtempSync(join(tmpdir(), 'webtune-e2e-gguf-')), 'stories260K-q8_0.gguf');
  execFileSync(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/hf-to-gguf.ts', STORIES, file, 'q8_0']);
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto('/');
  await expect(page.getByTestId('gpu-panel')).toBeVisible();
  await page.getByTestId('model-files').setInputFiles([file]);
  await expect(page.getByTestId('model-arch')).toHaveText('LlamaForCausalLM');
  await expect(page.getByTestId('model-summary')).toContainText('260,032');
  await expect(page.getByTestId('gguf-note')).toContainText('31 Q8_0');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('gen-stats')).toContainText('tokens');
  // Q8_0 weights (ffn_down stays F16: 172-wide rows) keep the reference's greedy start.
  await expect(page.getByTestId('generated')).toContainText('Once upon a time, there was a little girl');
  expect(errors).toEqual([]);
});
