// A Hugging Face PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, as
// methods/lora/peft.ts writes it) as a llama.cpp LoRA adapter GGUF, the file
// `llama-cli -m base.gguf --lora adapter.gguf` loads. It follows llama.cpp's
// convert_lora_to_gguf.py and the loader in src/llama-adapter.cpp:
//
// - metadata: general.architecture (the base converter's arch: LlamaForCausalLM and
//   MistralForCausalLM → "llama", Qwen2ForCausalLM → "qwen2", GPT2LMHeadModel → "gpt2";
//   the loader refuses an adapter whose arch differs from the model's), general.type =
//   "adapter", adapter.type = "lora", adapter.lora.alpha (f32), general.name and
//   general.quantization_version = 2 (u32) as gguf-py adds them. No general.alignment: the
//   default 32 applies.
// - tensors `<base GGUF name>.lora_a` with PyTorch shape [r, in] (ggml ne [in, r]) and
//   `.lora_b` [out, r] (ne [r, out]), named as the base GGUF names the weight
//   (blk.N.attn_q.weight, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down; GPT-2
//   blk.N.attn_qkv, attn_output, ffn_up, ffn_down). The loader checks
//   model.ne[0] == a.ne[0], model.ne[1] == b.ne[1] and a.ne[1] == b.ne[0], and applies
//   y += (alpha / r)·B·(A·x) with r = b.ne[0].
// - Llama q and k: the base converter (LlamaModel.modify_tensors) permutes the rows of
//   q_proj and k_proj, reshape(n_head, 2, D/2, in).swapaxes(1, 2) (n_head = the KV heads
//   for k), from rotate-half RoPE to llama.cpp's interleaved pairs; on a LoRA pair that
//   permutation lands on B's rows only (its LoraTorchTensor.permute), so lora_b of q and k
//   is permuted the same way and lora_a is not. Qwen2 (arch qwen2, NEOX RoPE in llama.cpp)
//   is not permuted, nor are v, o and the MLP.
// - rsLoRA (use_rslora): llama.cpp has no such flag and always scales by alpha / r; the
//   Python converter copies lora_alpha unchanged, which would scale an rsLoRA adapter by
//   alpha / r instead of alpha / √r. We write alpha·√r, so alpha' / r = alpha / √r and the
//   tensors stay PEFT's bit for bit.
// - GPT-2 (Conv1D, fan_in_fan_out): PEFT's A is [r, in] and B [out, r] whatever the
//   base's storage order, and the base GGUF holds each Conv1D weight transposed into
//   [out, in] (GPT2Model.modify_tensors), so A and B go in unchanged. (The Python converter
//   sends the pair through that same transpose, which swaps and transposes A and B: the
//   loader then rejects c_attn and c_fc for their shape, and c_proj gets ΔWᵀ.)
// - F32 by default (the converter's default --outtype f32); F16 rounds both matrices to
//   nearest even, as its --outtype f16 does for 2-D tensors.
// DoRA and SHiRA adapters are refused: llama.cpp's LoRA is an unnormalised W + s·B·A.

import { bytesSource } from '../io/bytes.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import type { ModelSpec } from '../model/config.ts';
import { linearShapes, type LinearShape } from '../model/memory.ts';
import { adapterConfig, exportFile } from '../methods/peft-files.ts';
import { ConfigError } from '../config/schema.ts';
import type { ExportFile } from '../methods/types.ts';
import { f64ToF16Bits } from './dtype.ts';
import { writeGguf, type GgufTensor, type GgufValue } from './gguf.ts';

/** llama.cpp's architecture name for a checkpoint's, and whether q/k rows are permuted. */
export function llamaCppArch(spec: ModelSpec): { arch: string; permuteQK: boolean } {
  switch (spec.architecture) {
    case 'LlamaForCausalLM':
    case 'MistralForCausalLM':
      return { arch: 'llama', permuteQK: true };
    case 'Qwen2ForCausalLM':
      return { arch: 'qwen2', permuteQK: false };
    case 'GPT2LMHeadModel':
      return { arch: 'gpt2', permuteQK: false };
  }
}

const LLAMA_NAMES: Record<string, string> = {
  'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
  'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
};
const GPT2_NAMES: Record<string, string> = { 'attn.c_attn': 'attn_qkv', 'attn.c_proj': 'attn_output', 'mlp.c_fc': 'ffn_up', 'mlp.c_proj': 'ffn_down' };

/** The base GGUF tensor name of a checkpoint module (`model.layers.3.self_attn.q_proj` →
 *  `blk.3.attn_q.weight`), or undefined for a module llama.cpp's base has no tensor for. */
export function ggufWeightName(spec: ModelSpec, module: string): string | undefined {
  const m = spec.family === 'gpt2' ? /^(?:transformer\.)?h\.(\d+)\.(.+)$/.exec(module) : /^model\.layers\.(\d+)\.(.+)$/.exec(module);
  if (!m) return undefined;
  const kind = (spec.family === 'gpt2' ? GPT2_NAMES : LLAMA_NAMES)[m[2]];
  return kind && Number(m[1]) < spec.layers ? `blk.${m[1]}.${kind}.weight` : undefined;
}

/** The rows of a (heads·D, cols) matrix reordered as llama.cpp's converter permutes q/k:
 *  row h·D + 2·b + a of the result is row h·D + a·D/2 + b of the input (a ∈ {0, 1}). */
export function permuteHeadRows(w: Float32Array, heads: number, cols: number): Float32Array {
  const rows = w.length / cols;
  const D = rows / heads;
  if (!Number.isInteger(D) || D % 2 !== 0) throw new ConfigError(`cannot permute ${rows} rows into ${heads} heads of an even size`);
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < D / 2; b++) {
        const src = (h * D + a * (D / 2) + b) * cols;
        out.set(w.subarray(src, src + cols), (h * D + 2 * b + a) * cols);
      }
    }
  }
  return out;
}

export interface GgufLoraOptions {
  /** Tensor type of lora_a / lora_b (default F32). */
  type?: 'F32' | 'F16';
  /** general.name (default: the adapter's base model followed by " LoRA"). */
  name?: string;
}

export interface GgufLoraResult {
  bytes: Uint8Array;
  arch: string;
  /** adapter.lora.alpha as written (alpha·√r for rsLoRA). */
  alpha: number;
  /** Tensor pairs written, by base GGUF name. */
  weights: string[];
}

function parseConfig(files: readonly ExportFile[]): { c: Record<string, unknown>; st: Uint8Array } {
  const what = 'GGUF export needs a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors)';
  const find = (n: string) => exportFile(files, n, what);
  const c = adapterConfig(files, what);
  if (c.peft_type === 'SHIRA') {
    throw new ConfigError('GGUF export: llama.cpp loads low-rank LoRA pairs only, and a SHiRA adapter is a sparse ΔW (shira_indices / shira_weight). Convert it to a LoRA adapter first (a low-rank fit of each ΔW), or export --format merged');
  }
  if (c.peft_type !== 'LORA') throw new ConfigError(`GGUF export: adapter_config.json has peft_type ${JSON.stringify(c.peft_type)}; llama.cpp's LoRA format takes PEFT "LORA" adapters`);
  if (c.use_dora === true) {
    throw new ConfigError('GGUF export: DoRA adapters (use_dora) cannot go to llama.cpp: its LoRA format applies W + (alpha/r)·B·A with no magnitude vector or row normalisation. Export --format merged instead');
  }
  return { c, st: find('adapter_model.safetensors') };
}

/** Convert a PEFT LoRA adapter for `spec`'s architecture into a llama.cpp LoRA GGUF. */
export async function peftLoraToGguf(files: readonly ExportFile[], spec: ModelSpec, opts: GgufLoraOptions = {}): Promise<GgufLoraResult> {
  const { c, st: stBytes } = parseConfig(files);
  const r0 = Number(c.r);
  const alpha0 = Number(c.lora_alpha);
  if (!Number.isInteger(r0) || r0 < 1 || !(alpha0 > 0)) throw new ConfigError(`adapter_config.json: r = ${String(c.r)} and lora_alpha = ${String(c.lora_alpha)} must be a positive integer and a positive number`);
  const nonEmpty = (v: unknown) => typeof v === 'object' && v !== null && Object.keys(v).length > 0;
  if (nonEmpty(c.alpha_pattern)) throw new ConfigError('GGUF export: adapter_config.json has an alpha_pattern; llama.cpp takes one adapter.lora.alpha for every tensor');
  if (c.bias !== undefined && c.bias !== 'none') throw new ConfigError(`GGUF export: adapter_config.json has bias = ${JSON.stringify(c.bias)}; llama.cpp's LoRA format has no bias terms`);
  if (Array.isArray(c.modules_to_save) && c.modules_to_save.length) throw new ConfigError(`GGUF export: adapter_config.json has modules_to_save (${c.modules_to_save.join(', ')}); llama.cpp's LoRA format carries only lora_A / lora_B pairs`);
  if (c.fan_in_fan_out === true && spec.family !== 'gpt2') throw new ConfigError(`GGUF export: adapter_config.json has fan_in_fan_out = true, but ${spec.architecture}'s linear layers are (out, in)`);
  const { arch, permuteQK } = llamaCppArch(spec);
  const st = await SafetensorsFile.open(bytesSource(stBytes, 'adapter_model.safetensors'));
  const shapes = new Map<string, LinearShape>(linearShapes(spec).map((l) => [l.name, l]));

  const pairs = new Map<string, { module: string; A?: string; B?: string }>();
  for (const name of st.names) {
    if (name.endsWith('.lora_magnitude_vector') || name.endsWith('.lora_magnitude_vector.weight')) {
      throw new ConfigError(`GGUF export: adapter_model.safetensors has "${name}", a DoRA magnitude; llama.cpp's LoRA format cannot hold DoRA. Export --format merged instead`);
    }
    const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(name);
    if (!m) throw new ConfigError(`GGUF export: adapter_model.safetensors has "${name}", which is not a lora_A / lora_B weight`);
    const module = spec.family === 'gpt2' ? m[1].replace(/^transformer\./, '') : m[1];
    const gname = ggufWeightName(spec, module);
    if (!gname || !shapes.has(module)) throw new ConfigError(`GGUF export: "${name}" adapts ${m[1]}, which ${spec.architecture} has no linear layer for`);
    const p = pairs.get(gname) ?? { module };
    p[m[2] as 'A' | 'B'] = name;
    pairs.set(gname, p);
  }
  if (!pairs.size) throw new ConfigError('GGUF export: adapter_model.safetensors has no lora_A / lora_B tensors');

  const ranks = new Set<number>();
  const tensors: GgufTensor[] = [];
  const type = opts.type ?? 'F32';
  const enc = (v: Float32Array): Float32Array | Uint16Array => (type === 'F32' ? v : Uint16Array.from(v, (x) => f64ToF16Bits(x)));
  for (const [gname, p] of pairs) {
    if (!p.A || !p.B) throw new ConfigError(`GGUF export: ${p.module} has lora_${p.A ? 'A' : 'B'} but no lora_${p.A ? 'B' : 'A'}`);
    const l = shapes.get(p.module)!;
    const sa = st.info(p.A).shape;
    const sb = st.info(p.B).shape;
    const r = sa[0];
    if (sa.length !== 2 || sa[1] !== l.in || sb.length !== 2 || sb[0] !== l.out || sb[1] !== r) {
      throw new ConfigError(`GGUF export: ${p.module} has lora_A [${sa}] and lora_B [${sb}]; ${spec.architecture} needs [r, ${l.in}] and [${l.out}, r]`);
    }
    ranks.add(r);
    const A = await st.readF32(p.A);
    let B = await st.readF32(p.B);
    if (permuteQK && l.kind === 'q_proj') B = permuteHeadRows(B, spec.heads, r);
    if (permuteQK && l.kind === 'k_proj') B = permuteHeadRows(B, spec.kvHeads, r);
    const base = gname.slice(0, -'.weight'.length);
    tensors.push({ name: `${base}.weight.lora_a`, type, shape: [r, l.in], data: enc(A) });
    tensors.push({ name: `${base}.weight.lora_b`, type, shape: [l.out, r], data: enc(B) });
  }
  const rslora = c.use_rslora === true;
  if (rslora && ranks.size > 1) throw new ConfigError(`GGUF export: an rsLoRA adapter with ranks ${[...ranks].join(', ')} needs one alpha per rank; llama.cpp takes one adapter.lora.alpha`);
  const r = [...ranks][0];
  const alpha = Math.fround(rslora ? alpha0 * Math.sqrt(r) : alpha0);
  const baseName = typeof c.base_model_name_or_path === 'string' && c.base_model_name_or_path ? c.base_model_name_or_path : 'webtune';
  const kv: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.type', { type: 'string', value: 'adapter' }],
    ['general.name', { type: 'string', value: opts.name ?? `${baseName} LoRA` }],
    ['adapter.type', { type: 'string', value: 'lora' }],
    ['adapter.lora.alpha', { type: 'f32', value: alpha }],
    ['general.quantization_version', { type: 'u32', value: 2 }],
  ];
  return { bytes: writeGguf(kv, tensors), arch, alpha, weights: [...pairs.keys()] };
}
