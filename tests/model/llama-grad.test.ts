// Forward + backward of the Llama-family model on tiny random weights: the GPU loss matches
// the float64 reference composed of the kernel references, and every weight's GPU gradient
// matches central finite differences of that reference.

import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import type { ModelFiles } from '../../src/engine/io/model-files.ts';
import { writeSafetensors } from '../../src/engine/io/safetensors.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { llamaLossRef, type RefWeights } from '../../src/engine/model/llama.ref.ts';
import { randn, rng, testGpu } from '../helpers/gpu.ts';

function memoryModel(files: Record<string, Uint8Array>): ModelFiles {
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
function tinyModel(config: Record<string, unknown>, seed: number) {
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
  return { spec, files: memoryModel(files), weights };
}

const LLAMA = {
  architectures: ['LlamaForCausalLM'], hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, vocab_size: 37, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, max_position_embeddings: 64,
};
const QWEN2 = { ...LLAMA, architectures: ['Qwen2ForCausalLM'], tie_word_embeddings: false, num_key_value_heads: 1, head_dim: 6 };

describe('Llama-family forward + backward', () => {
  for (const [name, config] of [['Llama (GQA, tied)', LLAMA], ['Qwen2 (q/k/v bias, untied, head_dim 6)', QWEN2]] as const) {
    it(`${name}: loss equals the f64 reference; every gradient equals its finite differences`, async () => {
      const gpu = await testGpu();
      const { spec, files, weights } = tinyModel(config, 100);
      const model = await LlamaModel.load(gpu, files);
      const [B, T] = [2, 5];
      const r = rng(7);
      const ids = Array.from({ length: B * T }, () => Math.floor(r() * spec.vocab));
      const targets = Array.from({ length: B * T }, () => Math.floor(r() * spec.vocab));
      const mask = Array.from({ length: B * T }, (_, i) => (i % 5 === 0 ? 0 : 1)); // prompt positions ignored
      const gradArena = gpu.arena.child();
      const { loss, grads } = await model.lossAndGrads(ids, targets, mask, B, T, gradArena);

      const ref: RefWeights = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)]));
      const refLoss = llamaLossRef(spec, ref, ids, targets, mask, B, T);
      expect(Math.abs(loss - refLoss)).toBeLessThan(1e-5 * Math.max(1, refLoss));

      expect([...grads.keys()].sort()).toEqual([...weights.keys()].sort());
      const h = 1e-5;
      for (const [wname, gbuf] of grads) {
        const gpuGrad = await gpu.readF32(gbuf);
        const w = ref.get(wname);
        if (!(w instanceof Float64Array)) throw new Error(wname);
        for (const i of [0, Math.floor(w.length / 2), w.length - 1]) {
          const old = w[i];
          w[i] = old + h;
          const lp = llamaLossRef(spec, ref, ids, targets, mask, B, T);
          w[i] = old - h;
          const lm = llamaLossRef(spec, ref, ids, targets, mask, B, T);
          w[i] = old;
          const fd = (lp - lm) / (2 * h);
          expect(Math.abs(gpuGrad[i] - fd), `${wname}[${i}]: gpu ${gpuGrad[i]} vs fd ${fd}`).toBeLessThanOrEqual(2e-5 + 2e-3 * Math.abs(fd));
        }
      }
      gradArena.dispose();
      model.dispose();
    });
  }
});
