// A model folder that exists only in memory: config.json and a model.safetensors whose
// tensor bytes are generated on read (small uniform values from a hash of the float index),
// so a SmolLM2-135M-shaped benchmark model needs no 540 MB file, in Node or in a worker.

import type { ByteSource } from '../io/bytes.ts';
import type { ModelFiles } from '../io/model-files.ts';
import { parseModelConfig } from '../model/config.ts';

/** SmolLM2-135M's shape (HuggingFaceTB/SmolLM2-135M config.json). */
export const SMOLLM2_135M_CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
  num_attention_heads: 9, num_key_value_heads: 3, vocab_size: 49152, max_position_embeddings: 8192, rms_norm_eps: 1e-5,
  rope_theta: 100000, tie_word_embeddings: true, bos_token_id: 0, eos_token_id: 0, hidden_act: 'silu',
} as const;

/** Tensor names and shapes of a Llama-family config (tied head). */
export function llamaTensorShapes(config: Record<string, unknown>): [string, number[]][] {
  const s = parseModelConfig(JSON.stringify(config));
  const { hidden: C, intermediate: I, vocab: V, heads, kvHeads, headDim: D } = s;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [V, C]], ['model.norm.weight', [C]]];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [C]], [`${p}.post_attention_layernorm.weight`, [C]],
      [`${p}.self_attn.q_proj.weight`, [heads * D, C]], [`${p}.self_attn.k_proj.weight`, [kvHeads * D, C]],
      [`${p}.self_attn.v_proj.weight`, [kvHeads * D, C]], [`${p}.self_attn.o_proj.weight`, [C, heads * D]],
      [`${p}.mlp.gate_proj.weight`, [I, C]], [`${p}.mlp.up_proj.weight`, [I, C]], [`${p}.mlp.down_proj.weight`, [C, I]],
    );
  }
  if (!s.tieEmbeddings) shapes.push(['lm_head.weight', [V, C]]);
  return shapes;
}

/** Value of float number `j` of the data section: norms read 1, the rest ±scale. */
function valueAt(j: number, scale: number): number {
  let h = Math.imul(j ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return (h / 2 ** 32 - 0.5) * 2 * scale;
}

/** A random-weight model of `config` (Llama family), generated on read. */
export function syntheticModel(config: Record<string, unknown>, name = 'synthetic'): ModelFiles {
  const shapes = llamaTensorShapes(config);
  const header: Record<string, unknown> = {};
  const ranges: { start: number; end: number; norm: boolean }[] = [];
  let offset = 0;
  for (const [n, shape] of shapes) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[n] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    ranges.push({ start: offset, end: offset + bytes, norm: n.endsWith('norm.weight') });
    offset += bytes;
  }
  let h = JSON.stringify(header);
  h += ' '.repeat((8 - (h.length % 8)) % 8);
  const head = new Uint8Array(8 + h.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(h.length), true);
  head.set(new TextEncoder().encode(h), 8);
  const dataStart = head.length;
  const size = dataStart + offset;
  const weights: ByteSource = {
    name: `${name}/model.safetensors`,
    size,
    async read(off, length) {
      const out = new Uint8Array(length);
      const end = off + length;
      if (off < dataStart) out.set(head.subarray(off, Math.min(dataStart, end)), 0);
      const from = Math.max(off, dataStart);
      if (from < end) {
        // whole floats covering [from, end) of the data section
        const f0 = Math.floor((from - dataStart) / 4);
        const f1 = Math.ceil((end - dataStart) / 4);
        const vals = new Float32Array(f1 - f0);
        let r = ranges.findIndex((x) => x.end > f0 * 4);
        for (let j = f0; j < f1; j++) {
          while (r < ranges.length - 1 && ranges[r].end <= j * 4) r++;
          vals[j - f0] = ranges[r].norm ? 1 : valueAt(j, 0.05);
        }
        const bytes = new Uint8Array(vals.buffer);
        const skip = from - dataStart - f0 * 4;
        out.set(bytes.subarray(skip, skip + (end - from)), from - off);
      }
      return out;
    },
  };
  const cfgBytes = new TextEncoder().encode(JSON.stringify(config));
  const files: Record<string, ByteSource> = {
    'config.json': { name: `${name}/config.json`, size: cfgBytes.length, read: async (o, l) => cfgBytes.subarray(o, o + l) },
    'model.safetensors': weights,
  };
  return {
    name,
    has: async (f) => f in files,
    async open(f) {
      const s = files[f];
      if (!s) throw new Error(`${name}: no file ${f}`);
      return s;
    },
  };
}
