// Models for the GGUF tests: stories260K (../shared) and a random Qwen2-shaped model with a
// byte-level BPE tokenizer written here; random PEFT LoRA adapters for them; webtune's own
// greedy tokens and next-token probabilities to hold llama.cpp's against.

import { existsSync } from 'node:fs';
import type { ExportFile } from '../../src/engine/methods/types.ts';
import type { ModelFiles } from '../../src/engine/io/model-files.ts';
import { writeSafetensors } from '../../src/engine/io/safetensors.ts';
import type { ModelSpec } from '../../src/engine/model/config.ts';
import { linearShapes } from '../../src/engine/model/memory.ts';
import type { CausalLM } from '../../src/engine/model/load.ts';
import { memoryFolder, type OutFile } from '../../src/engine/export/merged.ts';
import { randn } from './gpu.ts';
import { memoryModel, tinyModel } from './tiny-model.ts';

export const STORIES = new URL('../../../shared/models/stories260K', import.meta.url).pathname;
/** stories260K tests run when ../shared is there, and must (fail) under CI. */
export const HAVE_STORIES = existsSync(`${STORIES}/config.json`) || process.env.CI === 'true';

/** GPT-2's byte → printable character map (bytes_to_unicode). */
export function byteChars(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = bs.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + n++);
  return out;
}

export const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
export const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A byte-level BPE tokenizer.json as Qwen2 lays one out: 256 byte tokens, merges learnt
 *  greedily from `corpus`, then <|endoftext|>, <|im_start|>, <|im_end|>. */
export function byteLevelTokenizer(corpus: string, merges: number): { json: Record<string, unknown>; size: number } {
  const bc = byteChars();
  const vocab: Record<string, number> = {};
  bc.forEach((c, i) => (vocab[c] = i));
  const words = (corpus.match(/ ?\p{L}+| ?\p{N}|\s+|[^\s\p{L}\p{N}]+/gu) ?? []).map((w) => [...new TextEncoder().encode(w)].map((b) => bc[b]));
  const mergeList: string[][] = [];
  for (let m = 0; m < merges; m++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]}\u0000${w[i + 1]}`, (counts.get(`${w[i]}\u0000${w[i + 1]}`) ?? 0) + 1);
    let best = '';
    let bestN = 0;
    for (const [k, n] of counts) if (n > bestN) [best, bestN] = [k, n];
    if (bestN < 2) break;
    const [a, b] = best.split('\u0000');
    mergeList.push([a, b]);
    vocab[a + b] = Object.keys(vocab).length;
    for (const w of words)
      for (let i = 0; i + 1 < w.length; i++)
        if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
  }
  const n = Object.keys(vocab).length;
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const json = {
    version: '1.0',
    added_tokens: specials.map((content, i) => ({ id: n + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: mergeList },
  };
  return { json, size: n + specials.length };
}

export const CORPUS = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. One day, she saw a big, red ball in the park. The ball was shiny and new, and 42 children wanted to play with it.';

/** A random Qwen2-shaped model (q/k/v bias, untied head, GQA) with a byte-level tokenizer and a chat template. */
export async function qwen2Model(seed = 7, size: { hidden?: number; intermediate?: number; headDim?: number } = {}): Promise<{ files: ModelFiles; spec: ModelSpec; raw: Record<string, Uint8Array> }> {
  const tok = byteLevelTokenizer(CORPUS, 40);
  const vocab = tok.size + 5; // padded past the tokenizer, as Qwen2 checkpoints are
  const config = {
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: size.hidden ?? 64, intermediate_size: size.intermediate ?? 96, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: size.headDim ?? 16, vocab_size: vocab, rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: false,
    max_position_embeddings: 128, bos_token_id: tok.size - 3, eos_token_id: tok.size - 1,
  };
  const m = tinyModel(config, seed);
  // tinyModel's weights are uniform in ±0.5; wider models get them scaled by √(64 / hidden),
  // so their logits stay in a sane range.
  const k = Math.sqrt(64 / config.hidden_size);
  const tensors = [...m.shapes].map(([name, shape]) => ({
    name, dtype: 'F32' as const, shape, data: name.endsWith('norm.weight') ? m.weights.get(name)! : m.weights.get(name)!.map((x) => x * k),
  }));
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const raw: Record<string, Uint8Array> = {
    'config.json': enc(config),
    'model.safetensors': writeSafetensors(tensors),
    'tokenizer.json': enc(tok.json),
    'tokenizer_config.json': enc({ add_bos_token: false, add_prefix_space: false, bos_token: null, eos_token: '<|im_end|>', pad_token: '<|endoftext|>', chat_template: CHATML, tokenizer_class: 'Qwen2Tokenizer' }),
  };
  return { files: { ...memoryModel(raw), name: 'qwen2-tiny' }, spec: m.spec, raw };
}

/** A PEFT LoRA adapter on every linear layer (rank r, values small enough to keep the model sane). */
export function loraAdapter(spec: ModelSpec, r: number, seed: number, amp = 0.15, cfg: Record<string, unknown> = {}): ExportFile[] {
  const tensors: { name: string; dtype: 'F32'; shape: number[]; data: Float32Array }[] = [];
  let s = seed;
  for (const l of linearShapes(spec)) {
    const p = `base_model.model.${l.name}`;
    tensors.push({ name: `${p}.lora_A.weight`, dtype: 'F32', shape: [r, l.in], data: randn(r * l.in, s++, -amp, amp) });
    tensors.push({ name: `${p}.lora_B.weight`, dtype: 'F32', shape: [l.out, r], data: randn(l.out * r, s++, -amp, amp) });
  }
  const config = { peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: 'tiny', r, lora_alpha: 2 * r, target_modules: [], use_rslora: false, use_dora: false, fan_in_fan_out: false, bias: 'none', ...cfg };
  return [
    { name: 'adapter_model.safetensors', bytes: writeSafetensors(tensors, { format: 'pt' }) },
    { name: 'adapter_config.json', bytes: new TextEncoder().encode(JSON.stringify(config)) },
  ];
}

/** An OutFile collecting bytes; `bytes()` after close. */
export async function memoryOut(): Promise<OutFile & { bytes(): Uint8Array }> {
  const folder = memoryFolder();
  const f = await folder.create('out');
  return { write: (b) => f.write(b), close: () => f.close(), bytes: () => folder.files.get('out')! };
}

/** webtune's greedy continuation of `prompt` (n tokens, no early stop) and at each step the
 *  softmax of its logits (f64), from full forward passes. */
export async function webtuneGreedy(model: CausalLM, prompt: number[], n: number): Promise<{ tokens: number[]; probs: Float64Array[]; logprobs: Float64Array[] }> {
  const V = model.spec.vocab;
  const seq = [...prompt];
  const tokens: number[] = [];
  const probs: Float64Array[] = [];
  const logprobs: Float64Array[] = [];
  for (let s = 0; s < n; s++) {
    const logits = await model.logits(seq, 1, seq.length);
    const row = logits.subarray((seq.length - 1) * V, seq.length * V);
    let max = -Infinity;
    let arg = 0;
    for (let i = 0; i < V; i++) if (row[i] > max) [max, arg] = [row[i], i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(row[i] - max);
    probs.push(Float64Array.from(row, (x) => Math.exp(x - max) / sum));
    logprobs.push(Float64Array.from(row, (x) => x - max - Math.log(sum)));
    tokens.push(arg);
    seq.push(arg);
  }
  return { tokens, probs, logprobs };
}
