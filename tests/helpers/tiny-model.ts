// Tiny random Llama-family models in Hugging Face layout, held in memory, for tests.

import { bytesSource } from '../../src/engine/io/bytes.ts';
import type { ModelFiles } from '../../src/engine/io/model-files.ts';
import { writeSafetensors } from '../../src/engine/io/safetensors.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';
import { expect } from 'vitest';
import type { GpuBuf } from '../../src/engine/gpu/arena.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';
import { randn } from './gpu.ts';

export function memoryModel(files: Record<string, Uint8Array>): ModelFiles {
  return {
    name: 'memory',
    async has(f) {
      return f in files;
    },
    async open(f) {
      if (!(f in files)) throw new Error(`memory: no ${f}`);
      return bytesSource(files[f], f);
    },
  };
}

/** A tiny random model in Hugging Face layout; returns its files and its weights. */
export function tinyModel(config: Record<string, unknown>, seed: number) {
  const spec = parseModelConfig(config);
  const { hidden: C, heads, kvHeads, headDim: D, intermediate: I, vocab: V } = spec;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [V, C]], ['model.norm.weight', [C]]];
  if (!spec.tieEmbeddings) shapes.push(['lm_head.weight', [V, C]]);
  for (let l = 0; l < spec.layers; l++) {
    const p = `model.layers.${l}`;
    shapes.push([`${p}.input_layernorm.weight`, [C]], [`${p}.post_attention_layernorm.weight`, [C]]);
    for (const [n, out, inp] of [['q', heads * D, C], ['k', kvHeads * D, C], ['v', kvHeads * D, C], ['o', C, heads * D]] as const) {
      shapes.push([`${p}.self_attn.${n}_proj.weight`, [out, inp]]);
      if (spec.qkvBias && n !== 'o') shapes.push([`${p}.self_attn.${n}_proj.bias`, [out]]);
    }
    shapes.push([`${p}.mlp.gate_proj.weight`, [I, C]], [`${p}.mlp.up_proj.weight`, [I, C]], [`${p}.mlp.down_proj.weight`, [C, I]]);
  }
  const weights = new Map<string, Float32Array>();
  shapes.forEach(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const w = name.endsWith('norm.weight') ? randn(n, seed + i, 0.8, 1.2) : randn(n, seed + i, -0.5, 0.5);
    weights.set(name, w);
  });
  const st = writeSafetensors(shapes.map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: weights.get(name) ?? new Float32Array() })));
  const files = { 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.safetensors': st };
  return { spec, files: memoryModel(files), weights, shapes: new Map(shapes) };
}


export const LLAMA = {
  architectures: ['LlamaForCausalLM'], hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, vocab_size: 37, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, max_position_embeddings: 64,
};
export const QWEN2 = { ...LLAMA, architectures: ['Qwen2ForCausalLM'], tie_word_embeddings: false, num_key_value_heads: 1, head_dim: 6 };


/**
 * Every GPU gradient against central finite differences of `loss` (a float64 reference over
 * `weights`, which it reads by name) at the given indices of each tensor:
 * |gpu − fd| <= 2e-5 + 2e-3·|fd|.
 */
export async function expectGradsMatchFiniteDifferences(
  gpu: Gpu,
  grads: ReadonlyMap<string, GpuBuf>,
  weights: ReadonlyMap<string, ArrayLike<number>>,
  loss: () => number,
  indices: (n: number) => number[],
): Promise<void> {
  const h = 1e-5;
  for (const [name, gbuf] of grads) {
    const gpuGrad = await gpu.readF32(gbuf);
    const w = weights.get(name);
    if (!(w instanceof Float64Array)) throw new Error(name);
    for (const i of indices(w.length)) {
      const old = w[i];
      w[i] = old + h;
      const lp = loss();
      w[i] = old - h;
      const lm = loss();
      w[i] = old;
      const fd = (lp - lm) / (2 * h);
      expect(Math.abs(gpuGrad[i] - fd), `${name}[${i}]: gpu ${gpuGrad[i]} vs fd ${fd}`).toBeLessThanOrEqual(2e-5 + 2e-3 * Math.abs(fd));
    }
  }
}
