// The merged model (base + a run's trained state, merged.ts) as one GGUF file that
// llama.cpp and Ollama load as a model, laid out as llama.cpp's convert_hf_to_gguf.py lays
// out a Llama-family or Qwen2 checkpoint:
//
// - metadata: general.architecture ("llama" for Llama / Mistral, "qwen2"), general.type
//   "model", general.name, general.file_type (ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2,
//   MOSTLY_Q8_0 7), general.quantization_version 2; <arch>.context_length,
//   embedding_length, block_count, feed_forward_length, attention.head_count,
//   attention.head_count_kv, attention.layer_norm_rms_epsilon, rope.freq_base,
//   rope.dimension_count, vocab_size, attention.key_length / value_length (when head_dim
//   is not hidden / heads), rope.scaling.type / factor (linear); and the tokenizer and chat
//   template (gguf-vocab.ts).
// - tensors: token_embd, output_norm, output (absent when tied: llama.cpp then uses
//   token_embd), blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate,
//   ffn_up, ffn_down}.weight and Qwen2's attn_{q,k,v}.bias; Llama 3 rope scaling as
//   rope_freqs.weight (the per-frequency divisors llama.cpp applies: default ÷ scaled
//   inverse frequency). Llama's q and k rows (weight and bias) are permuted as the
//   converter permutes them (lora-gguf.ts permuteHeadRows), Qwen2's are not.
// - types: 1-D tensors (norms, biases, rope_freqs) F32 always; 2-D tensors in the type
//   asked for. Q8_0 and Q4_0 need rows of a multiple of 32 values: a tensor whose rows are
//   not falls back to F16, as the converter falls back (the summary lists them). Q8_0 /
//   Q4_0 follow ggml's reference quantizers (quant/ggml.ts). For Q4_0, llama-quantize
//   would keep output.weight in Q6_K; here every 2-D tensor is Q4_0 (a plain file any
//   loader reads).
// Written in pieces through an OutFile: the header first (sizes are known from shapes),
// then one tensor at a time, so only one tensor is in memory beside the adapter.

import { ropeInvFreq } from '../kernels/rope.ts';
import { type ModelFiles } from '../io/model-files.ts';
import type { ModelSpec } from '../model/config.ts';
import { ConfigError } from '../config/schema.ts';
import type { ExportFile } from '../methods/types.ts';
import { GGML, ggmlBytes, quantizeQ4_0, quantizeQ8_0 } from '../quant/ggml.ts';
import { f64ToF16Bits } from './dtype.ts';
import { writeGgufHeader, type GgufTensorInfo, type GgufValue } from './gguf.ts';
import { ggufVocab, type GgufVocab } from './gguf-vocab.ts';
import { llamaCppArch } from './lora-gguf.ts';
import { mergedValues, planMerge, type MergeOptions, type MergePlan, type OutFile } from './merged.ts';

export const MERGED_GGUF_TYPES = ['F16', 'Q8_0', 'Q4_0', 'F32'] as const;
export type MergedGgufType = (typeof MERGED_GGUF_TYPES)[number];

const FILE_TYPE: Record<MergedGgufType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };
const TYPE_CODE: Record<MergedGgufType, number> = { F32: GGML.F32, F16: GGML.F16, Q4_0: GGML.Q4_0, Q8_0: GGML.Q8_0 };

export interface MergedGgufOptions extends MergeOptions {
  /** Type of the 2-D tensors (default F16). */
  type?: MergedGgufType;
  /** general.name (default: the base folder's name). */
  name?: string;
}

export interface MergedGgufSummary {
  arch: string;
  kind: MergePlan['kind'];
  /** Bytes written. */
  bytes: number;
  /** Checkpoint tensors whose values the adapter changed. */
  merged: string[];
  /** 2-D tensors written as F16 because their rows are not whole 32-blocks (Q8_0 / Q4_0). */
  fellBack: string[];
  /** The tokenizer metadata written (for the Modelfile). */
  vocab: GgufVocab;
}

/** llama.cpp's name of a Llama-family checkpoint tensor, or undefined for one it has none for. */
export function ggufModelTensorName(name: string): string | undefined {
  if (name === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (name === 'model.norm.weight') return 'output_norm.weight';
  if (name === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const kinds: Record<string, string> = {
    input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm', 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
  };
  const k = kinds[m[2]];
  return k ? `blk.${m[1]}.${k}.${m[3]}` : undefined;
}

/** Rows of a (heads·D, cols) array in llama.cpp's q/k order (see lora-gguf.ts permuteHeadRows). */
function permuteRows(w: ArrayLike<number>, heads: number, cols: number): Float64Array {
  const rows = w.length / cols;
  const D = rows / heads;
  if (!Number.isInteger(D) || D % 2 !== 0) throw new ConfigError(`cannot permute ${rows} rows into ${heads} heads of an even size`);
  const out = new Float64Array(w.length);
  for (let h = 0; h < heads; h++)
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < D / 2; b++) {
        const src = (h * D + a * (D / 2) + b) * cols;
        const dst = (h * D + 2 * b + a) * cols;
        for (let c = 0; c < cols; c++) out[dst + c] = w[src + c];
      }
  return out;
}

/** The architecture metadata of a Llama-family / Qwen2 spec. */
export function ggufModelKv(spec: ModelSpec, arch: string): [string, GgufValue][] {
  const rope = spec.rope!;
  const u32 = (v: number): GgufValue => ({ type: 'u32', value: v });
  const f32 = (v: number): GgufValue => ({ type: 'f32', value: Math.fround(v) });
  const kv: [string, GgufValue][] = [
    [`${arch}.vocab_size`, u32(spec.vocab)],
    [`${arch}.context_length`, u32(spec.maxPositions)],
    [`${arch}.embedding_length`, u32(spec.hidden)],
    [`${arch}.block_count`, u32(spec.layers)],
    [`${arch}.feed_forward_length`, u32(spec.intermediate)],
    [`${arch}.attention.head_count`, u32(spec.heads)],
    [`${arch}.attention.head_count_kv`, u32(spec.kvHeads)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(spec.normEps)],
    [`${arch}.rope.freq_base`, f32(rope.theta)],
    [`${arch}.rope.dimension_count`, u32(rope.rotaryDim)],
  ];
  if (spec.headDim * spec.heads !== spec.hidden) kv.push([`${arch}.attention.key_length`, u32(spec.headDim)], [`${arch}.attention.value_length`, u32(spec.headDim)]);
  if (rope.scaling.type === 'linear') kv.push([`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' }], [`${arch}.rope.scaling.factor`, f32(rope.scaling.factor)]);
  return kv;
}

function encode(type: number, v: ArrayLike<number>): Uint8Array {
  if (type === GGML.F32) {
    const f = Float32Array.from(v);
    return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  }
  if (type === GGML.F16) {
    const out = new Uint8Array(v.length * 2);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < v.length; i++) dv.setUint16(2 * i, f64ToF16Bits(v[i]), true);
    return out;
  }
  return type === GGML.Q8_0 ? quantizeQ8_0(Float32Array.from(v)) : quantizeQ4_0(Float32Array.from(v));
}

/** Whether the host is little-endian (Float32Array bytes are written as they are). */
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Write the merged model of `base` + `adapter` as a GGUF model file into `out` (and close
 * it). `adapter` empty: the base itself (a run's base as llama.cpp's file, for its adapter).
 */
export async function writeMergedGguf(base: ModelFiles, adapter: readonly ExportFile[], out: OutFile, opts: MergedGgufOptions = {}): Promise<MergedGgufSummary> {
  if (!LE) throw new Error('GGUF export needs a little-endian host');
  const plan = await planMerge(base, adapter, opts, true);
  const { spec, ckpt } = plan;
  if (spec.family !== 'llama' || !spec.rope) throw new ConfigError(`GGUF export: ${spec.architecture} is not written as a GGUF model here (Llama family and Qwen2 are)`);
  const { arch, permuteQK } = llamaCppArch(spec);
  const type = opts.type ?? 'F16';
  const vocab = await ggufVocab(base, spec);

  // The tensors, their GGUF names and types.
  const tied = spec.tieEmbeddings || !ckpt.has('lm_head.weight');
  const plans: { src?: string; info: GgufTensorInfo; rows: number; cols: number; permute?: number; data?: Float32Array }[] = [];
  const fellBack: string[] = [];
  for (const name of ckpt.names) {
    if (name === 'lm_head.weight' && tied) continue;
    const g = ggufModelTensorName(name);
    if (!g) {
      if (/rotary_emb\.inv_freq$/.test(name)) continue; // a buffer some checkpoints keep; llama.cpp computes it
      throw new ConfigError(`GGUF export: checkpoint tensor "${name}" has no place in llama.cpp's ${arch} model`);
    }
    const shape = ckpt.info(name).shape;
    const cols = shape[shape.length - 1];
    const rows = shape.length === 2 ? shape[0] : 1;
    let code = shape.length === 1 ? GGML.F32 : TYPE_CODE[type];
    if ((code === GGML.Q8_0 || code === GGML.Q4_0) && cols % 32 !== 0) {
      code = GGML.F16;
      fellBack.push(g);
    }
    const qk = /\.attn_([qk])\./.exec(g);
    const permute = permuteQK && qk ? (qk[1] === 'q' ? spec.heads : spec.kvHeads) : undefined;
    plans.push({ src: name, info: { name: g, ggmlType: code, shape, bytes: ggmlBytes(code, rows * cols) }, rows, cols, permute });
  }
  if (spec.rope.scaling.type === 'llama3') {
    const plain = ropeInvFreq(spec.rope.theta, spec.rope.rotaryDim);
    const scaled = ropeInvFreq(spec.rope.theta, spec.rope.rotaryDim, spec.rope.scaling);
    const data = Float32Array.from(plain, (f, i) => f / scaled[i]);
    plans.push({ info: { name: 'rope_freqs.weight', ggmlType: GGML.F32, shape: [data.length], bytes: data.length * 4 }, rows: 1, cols: data.length, data });
  }
  const names = new Set(plans.map((p) => p.info.name));
  for (const need of ['token_embd.weight', 'output_norm.weight']) if (!names.has(need)) throw new ConfigError(`GGUF export: the checkpoint has no tensor for ${need}`);

  const kv: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.type', { type: 'string', value: 'model' }],
    ['general.name', { type: 'string', value: opts.name ?? base.name.split('/').filter(Boolean).pop() ?? 'webtune' }],
    ['general.file_type', { type: 'u32', value: FILE_TYPE[type] }],
    ['general.quantization_version', { type: 'u32', value: 2 }],
    ...ggufModelKv(spec, arch),
    ...vocab.kv,
  ];
  const { header, padding } = writeGgufHeader(kv, plans.map((p) => p.info));
  await out.write(header);
  let bytes = header.length;
  const merged: string[] = [];
  for (const [done, p] of plans.entries()) {
    let v: ArrayLike<number>;
    if (p.data) v = p.data;
    else {
      const m = await mergedValues(plan, p.src!, opts);
      if (m?.merged) merged.push(p.src!);
      v = m ? m.values : await ckpt.readF32(p.src!);
    }
    if (p.permute !== undefined) v = permuteRows(v, p.permute, p.cols);
    const enc = encode(p.info.ggmlType, v);
    if (enc.length !== p.info.bytes) throw new Error(`GGUF export: "${p.info.name}" encodes to ${enc.length} bytes, not ${p.info.bytes}`);
    await out.write(enc);
    const pad = padding(enc.length);
    if (pad) await out.write(new Uint8Array(pad));
    bytes += enc.length + pad;
    opts.onProgress?.({ tensor: p.info.name, done: done + 1, total: plans.length });
  }
  await out.close();
  return { arch, kind: plan.kind, bytes, merged, fellBack, vocab };
}
