// Bad model folders fail with an error that names the file and what was expected.

import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import type { ModelFiles } from '../../src/engine/io/model-files.ts';
import { writeSafetensors } from '../../src/engine/io/safetensors.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { testGpu } from '../helpers/gpu.ts';
import { LLAMA, tinyModel } from '../helpers/tiny-model.ts';

function edited(files: ModelFiles, name: string, replace: (f: string) => Promise<Uint8Array | undefined>): ModelFiles {
  return {
    name: 'edited',
    has: async (f) => (f === name ? (await replace(f)) !== undefined : files.has(f)),
    open: async (f) => {
      if (f !== name) return files.open(f);
      const b = await replace(f);
      if (!b) throw new Error(`no ${f}`);
      return bytesSource(b, f);
    },
  };
}

describe('loading a bad model folder', () => {
  it('names a missing tensor, a wrong shape, a truncated file, a missing weights file and a bad config', async () => {
    const gpu = await testGpu();
    const { files, weights, shapes } = tinyModel(LLAMA, 1);
    const live = gpu.ledger.snapshot().live.weights;
    const write = (keep: (name: string) => boolean, shape: (name: string, data: Float32Array) => number[]) =>
      writeSafetensors([...weights].filter(([n]) => keep(n)).map(([name, data]) => ({ name, dtype: 'F32' as const, shape: shape(name, data), data })));
    const flat = write(() => true, (_, d) => [d.length]);
    await expect(LlamaModel.load(gpu, edited(files, 'model.safetensors', async () => flat))).rejects.toThrow(
      /tensor "model\.embed_tokens\.weight" has shape \[592\], the config implies \[37,16\]/,
    );
    const missing = write((n) => n !== 'model.layers.1.mlp.up_proj.weight', (n) => shapes.get(n) ?? []);
    await expect(LlamaModel.load(gpu, edited(files, 'model.safetensors', async () => missing))).rejects.toThrow(/no tensor "model\.layers\.1\.mlp\.up_proj\.weight"/);
    const full = await (await files.open('model.safetensors')).read(0, 100000);
    await expect(LlamaModel.load(gpu, edited(files, 'model.safetensors', async () => full.subarray(0, full.length - 10)))).rejects.toThrow(/model\.safetensors: not a valid safetensors file/);
    await expect(LlamaModel.load(gpu, edited(files, 'model.safetensors', async () => undefined))).rejects.toThrow(/no model\.safetensors or model\.safetensors\.index\.json/);
    await expect(LlamaModel.load(gpu, edited(files, 'config.json', async () => new TextEncoder().encode('{"architectures":["T5ForConditionalGeneration"]}')))).rejects.toThrow(/"T5ForConditionalGeneration" is not supported/);
    expect(gpu.ledger.snapshot().live.weights).toBe(live); // nothing left behind by the failed loads
  });
});
