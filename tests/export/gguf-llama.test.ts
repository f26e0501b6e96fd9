// webtune's GGUF files in the real llama.cpp (node-llama-cpp 3.21.1's CPU build, one
// process for this file): the merged model as one GGUF, and the base as a GGUF with the
// LoRA adapter GGUF beside it (`llama-cli -m base.gguf --lora adapter.gguf`). llama.cpp's
// greedy tokens must equal webtune's, and its next-token probabilities at each step must
// equal webtune's within 1e-4 (its five most likely tokens). On stories260K (a real Llama
// with GQA, q/k permuted in the file) and a random Qwen2-shaped model written here
// (q/k/v bias, untied head, head_dim ≠ hidden / heads, padded vocabulary, byte-level BPE).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { peftLoraToGguf } from '../../src/engine/export/lora-gguf.ts';
import { writeMergedGguf, type MergedGgufType } from '../../src/engine/export/merged-gguf.ts';
import { memoryFolder, writeMergedModel } from '../../src/engine/export/merged.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import type { ModelFiles } from '../../src/engine/io/model-files.ts';
import { parseModelConfig, type ModelSpec } from '../../src/engine/model/config.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import type { ExportFile } from '../../src/engine/methods/types.ts';
import { testGpu } from '../helpers/gpu.ts';
import { HAVE_STORIES, STORIES, loraAdapter, memoryOut, qwen2Model, webtuneGreedy } from '../helpers/gguf-models.ts';
import { llamaCpp, type Greedy } from '../helpers/llama-cpp.ts';
import { memoryModel } from '../helpers/tiny-model.ts';
import { readFileSync } from 'node:fs';

const TMP = mkdtempSync(join(tmpdir(), 'webtune-gguf-llama-'));
const N = 10;

async function ggufFile(base: ModelFiles, adapter: ExportFile[], name: string, type: MergedGgufType = 'F32') {
  const out = await memoryOut();
  const summary = await writeMergedGguf(base, adapter, out, { type });
  const path = join(TMP, name);
  writeFileSync(path, out.bytes());
  return { path, summary };
}

/** webtune's merged model (the HF folder merged.ts writes), loaded back. */
async function webtuneMerged(base: ModelFiles, adapter: ExportFile[]) {
  const folder = memoryFolder();
  await writeMergedModel(base, adapter, folder);
  return loadModel(await testGpu(), memoryModel(Object.fromEntries(folder.files)));
}

function expectSame(ours: Awaited<ReturnType<typeof webtuneGreedy>>, theirs: Greedy, tol: number) {
  expect(theirs.tokens).toEqual(ours.tokens);
  let worst = 0;
  theirs.probs.forEach((top, s) => {
    expect(top.length).toBe(5);
    for (const [id, p] of top) worst = Math.max(worst, Math.abs(p - ours.probs[s][id]));
  });
  expect(worst).toBeLessThanOrEqual(tol);
  return worst;
}

const cases: { name: string; run: boolean; files: () => Promise<{ files: ModelFiles; spec: ModelSpec }>; prompt: number[] }[] = [
  {
    name: 'stories260K',
    run: HAVE_STORIES,
    files: async () => ({ files: nodeModelDir(STORIES), spec: parseModelConfig(readFileSync(`${STORIES}/config.json`, 'utf8')) }),
    prompt: [1, 403, 407, 261, 1060 % 512],
  },
  { name: 'a random Qwen2-shaped model', run: true, files: () => qwen2Model(), prompt: [5, 60, 70, 80] },
];

describe('webtune GGUF files in the real llama.cpp', () => {
  for (const c of cases) {
    it.runIf(c.run)(`${c.name}: llama.cpp runs the merged F32 GGUF as webtune runs the merged model (tokens equal, top-5 |Δp| ≤ 1e-4)`, async () => {
      const { files, spec } = await c.files();
      const adapter = loraAdapter(spec, 4, 300);
      const { path, summary } = await ggufFile(files, adapter, `${c.name}-merged.gguf`);
      expect(summary.merged.length).toBe(spec.layers * 7);
      const cpp = await llamaCpp();
      const theirs = await cpp.greedy(path, c.prompt, N);
      const model = await webtuneMerged(files, adapter);
      const ours = await webtuneGreedy(model, c.prompt, N);
      model.dispose();
      // The adapter changed the model: the base's own continuation differs.
      const base = await loadModel(await testGpu(), files);
      const plain = await webtuneGreedy(base, c.prompt, N);
      base.dispose();
      expect(plain.probs[0][ours.tokens[0]]).not.toBeCloseTo(ours.probs[0][ours.tokens[0]], 3);
      expectSame(ours, theirs, 1e-4);
      await cpp.unload(path);
    });

    it.runIf(c.run)(`${c.name}: llama.cpp runs base GGUF + LoRA adapter GGUF as webtune runs base + adapter (tokens equal, top-5 |Δp| ≤ 1e-4)`, async () => {
      const { files, spec } = await c.files();
      const adapter = loraAdapter(spec, 4, 500);
      const { path: basePath } = await ggufFile(files, [], `${c.name}-base.gguf`);
      const lora = await peftLoraToGguf(adapter, spec);
      const loraPath = join(TMP, `${c.name}-lora.gguf`);
      writeFileSync(loraPath, lora.bytes);
      const cpp = await llamaCpp();
      const theirs = await cpp.greedy(basePath, c.prompt, N, { lora: loraPath });
      const model = await webtuneMerged(files, adapter);
      const ours = await webtuneGreedy(model, c.prompt, N);
      model.dispose();
      expectSame(ours, theirs, 1e-4);
      // Without the adapter llama.cpp computes something else.
      const bare = await cpp.greedy(basePath, c.prompt, 1);
      expect(Math.abs(bare.probs[0][0][1] - theirs.probs[0][0][1])).toBeGreaterThan(1e-3);
      await cpp.unload(basePath);
    });
  }
});
