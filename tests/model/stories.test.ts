// A real pretrained model (../shared/models/stories260K, see its CARD.md) through the same
// path a user's folder takes: config.json + model.safetensors → kernels → logits. The
// reference logits and greedy tokens came from llama2.c's own computation.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { testGpu } from '../helpers/gpu.ts';

const DIR = new URL('../../../shared/models/stories260K', import.meta.url).pathname;
const ref: {
  prompt_ids: number[];
  greedy_ids_200: number[];
  logits_first16_positions_argmax: number[];
  logits_pos0_first8: number[];
  logits_pos15_first8: number[];
} = JSON.parse(readFileSync(`${DIR}/reference.json`, 'utf8'));

describe('stories260K on the kernels', () => {
  it('reproduces the reference logits (|Δ| <= 2e-5; the reference has 5 decimals) and their argmax at 16 positions', async () => {
    const gpu = await testGpu();
    const model = await LlamaModel.load(gpu, nodeModelDir(DIR));
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

  it('greedy generation reproduces the first 40 reference tokens', async () => {
    const gpu = await testGpu();
    const model = await LlamaModel.load(gpu, nodeModelDir(DIR));
    expect(await model.greedy(ref.prompt_ids, 40)).toEqual(ref.greedy_ids_200.slice(0, 40));
    model.dispose();
  });
});
