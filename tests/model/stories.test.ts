// A real pretrained model (../shared/models/stories260K, see its CARD.md) through the same
// path a user's folder takes: config.json + model.safetensors → kernels → logits. The
// reference logits and greedy tokens came from llama2.c's own computation.

import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { testGpu } from '../helpers/gpu.ts';
import { describeStories, HAVE_STORIES, STORIES } from '../helpers/shared.ts';

const DIR = STORIES;
const ref: {
  prompt_ids: number[];
  greedy_ids_200: number[];
  logits_first16_positions_argmax: number[];
  logits_pos0_first8: number[];
  logits_pos15_first8: number[];
} = HAVE_STORIES ? JSON.parse(readFileSync(`${DIR}/reference.json`, 'utf8')) : {};

describeStories('stories260K on the kernels', () => {
  it('reproduces the reference logits (|Δ| <= 2e-5; the reference has 5 decimals) and their argmax at 16 positions', async () => {
    const gpu = await testGpu();
    const progress: number[] = [];
    const model = await LlamaModel.load(gpu, nodeModelDir(DIR), { onProgress: (p) => progress.push(p.loaded / p.total) });
    expect(progress.length).toBe(47); // every tensor of the checkpoint, reported as it lands
    expect(progress.at(-1)).toBe(1);
    const before = gpu.ledger.snapshot().live.activations;
    const ids = [...ref.prompt_ids, ...ref.greedy_ids_200.slice(0, 15)];
    const V = model.spec.vocab;
    const logits = await model.logits(ids, 1, ids.length);
    const at = (pos: number) => [...logits.subarray(pos * V, pos * V + 8)];
    at(0).forEach((v, i) => expect(Math.abs(v - ref.logits_pos0_first8[i])).toBeLessThanOrEqual(2e-5));
    at(15).forEach((v, i) => expect(Math.abs(v - ref.logits_pos15_first8[i])).toBeLessThanOrEqual(2e-5));
    const argmax = Array.from({ length: 16 }, (_, p) => {
      const row = logits.subarray(p * V, (p + 1) * V);
      return row.indexOf(Math.max(...row));
    });
    expect(argmax).toEqual(ref.logits_first16_positions_argmax);
    expect(gpu.ledger.snapshot().live.activations).toBe(before); // the forward's buffers were freed
    model.dispose();
  });

  it('greedy generation with the KV cache reproduces all 200 reference tokens, streaming them', async () => {
    const gpu = await testGpu();
    const model = await LlamaModel.load(gpu, nodeModelDir(DIR));
    const streamed: number[] = [];
    const before = gpu.ledger.snapshot().live.activations;
    const out = await model.generate(ref.prompt_ids, { maxNewTokens: 200, onToken: (id) => void streamed.push(id) });
    expect(out).toEqual(ref.greedy_ids_200);
    expect(streamed).toEqual(out);
    expect(gpu.ledger.snapshot().live.activations).toBe(before); // the cache was freed
    model.dispose();
  });

  it('samples reproducibly per seed, within the top-k / top-p candidates, and stops when asked', async () => {
    const gpu = await testGpu();
    const model = await LlamaModel.load(gpu, nodeModelDir(DIR));
    const o = { maxNewTokens: 12, temperature: 1.2, topK: 20, topP: 0.9 };
    const a = await model.generate([1], { ...o, seed: 1 });
    expect(await model.generate([1], { ...o, seed: 1 })).toEqual(a);
    expect(await model.generate([1], { ...o, seed: 2 })).not.toEqual(a);
    expect(await model.generate([1], { ...o, topK: 1, seed: 3 })).toEqual(ref.greedy_ids_200.slice(0, 12)); // top-1 is greedy
    let n = 0;
    expect((await model.generate([1], { ...o, seed: 1, onToken: () => ++n < 3 })).length).toBe(3);
    model.dispose();
  });
});
