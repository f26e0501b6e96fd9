// A GGUF model file (llama.cpp / Ollama / LM Studio) as a Hugging Face model folder the
// rest of the engine loads unchanged (ModelFiles): config.json, tokenizer.json and
// tokenizer_config.json are built from the file's metadata, and the weights are its
// tensors under their Hugging Face names (ModelFiles.checkpoint), read one at a time.
//
// - Architectures: "llama" (Llama, Mistral, TinyLlama, SmolLM …) → LlamaForCausalLM;
//   "qwen2" → Qwen2ForCausalLM. Their hyperparameters from <arch>.* keys (the names
//   export/merged-gguf.ts writes).
// - Llama's q and k rows were permuted by the converter (rotate-half → interleaved pairs);
//   they are permuted back here (for f32 reads and for stored blocks alike). Qwen2 is not.
// - Tensor types: F32, F16, BF16 read as f32; Q8_0 and Q4_0 read as f32, or handed to a
//   q8 / q4 load as the engine's blocks bit for bit (same f16 scales, same codes: no
//   re-quantizing); Q4_K, Q5_K, Q6_K (Q4_K_M files mix them) are decoded to f32 on load,
//   and a q8 / q4 load then re-quantizes them into 32-blocks: `conversions` says which and
//   what that costs.
// - Tokenizer: "llama" (SentencePiece-style: scores, byte fallback) → a byte-fallback BPE
//   tokenizer.json whose merges are every split a+b of a vocabulary piece, ranked by the
//   piece's score (llama.cpp's SPM merges the adjacent pair whose union scores highest);
//   "gpt2" (byte-level BPE) → its merges and the pre-tokenizer named by
//   tokenizer.ggml.pre. Special ids, add_bos / add_eos, and tokenizer.chat_template.

import type { ByteSource } from './bytes.ts';
import { openGguf, ggufMeta, readGgufTensorBytes, GgufReadError, type GgufFile, type GgufTensorEntry } from './gguf-read.ts';
import type { ModelFiles, TensorSource } from './model-files.ts';
import type { TensorInfo } from './safetensors.ts';
import { GGML, GGML_TYPES, ggmlToEngineBlocks, ggmlToF32, ggmlTypeName } from '../quant/ggml.ts';
import type { QuantFormat, QuantTensor } from '../quant/block.ts';

export const QWEN2_SPLIT_RE = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
export const LLAMA3_SPLIT_RE = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const ARCHS: Record<string, { hf: string; permuteQK: boolean }> = {
  llama: { hf: 'LlamaForCausalLM', permuteQK: true },
  qwen2: { hf: 'Qwen2ForCausalLM', permuteQK: false },
};

const KINDS: Record<string, string> = {
  attn_norm: 'input_layernorm', ffn_norm: 'post_attention_layernorm', attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj', ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
};

/** The Hugging Face name of a llama.cpp tensor name, or undefined. */
export function hfTensorName(g: string): string | undefined {
  if (g === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (g === 'output_norm.weight') return 'model.norm.weight';
  if (g === 'output.weight') return 'lm_head.weight';
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(g);
  const k = m && KINDS[m[2]];
  return k ? `model.layers.${m[1]}.${k}.${m![3]}` : undefined;
}

/** How a tensor of the file reaches the engine (for the page and the CLI to say). */
export interface GgufConversion {
  /** Tensors by ggml type name. */
  types: Record<string, number>;
  /** K-quant tensors: decoded to f32 on load (and re-quantized by a q8 / q4 load). */
  decoded: string[];
  /** One sentence for people: what loading this file at `precision` does to its weights. */
  note(precision: 'f32' | QuantFormat): string;
}

export interface GgufModelFiles extends ModelFiles {
  readonly gguf: GgufFile;
  readonly architecture: string;
  readonly conversion: GgufConversion;
  /** Whether the file's q/k rows are in llama.cpp's permuted order (a run's adapter must be too). */
  readonly permutedQK: boolean;
}

type Json = Record<string, unknown>;

/** Row map of llama.cpp's q/k permutation undone: HF row h·D + a·D/2 + b ← file row h·D + 2b + a. */
function unpermuteRow(rows: number, heads: number): Int32Array {
  const D = rows / heads;
  const map = new Int32Array(rows);
  for (let h = 0; h < heads; h++) for (let a = 0; a < 2; a++) for (let b = 0; b < D / 2; b++) map[h * D + a * (D / 2) + b] = h * D + 2 * b + a;
  return map;
}

function gatherRows(bytes: Uint8Array, rowBytes: number, map: Int32Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let r = 0; r < map.length; r++) out.set(bytes.subarray(map[r] * rowBytes, (map[r] + 1) * rowBytes), r * rowBytes);
  return out;
}

/** tokenizer.json + tokenizer_config.json from the GGUF tokenizer metadata. */
export function ggufTokenizerFiles(f: GgufFile): { tokenizer: Json; config: Json } {
  const m = ggufMeta(f);
  const where = f.source.name;
  const model = m.str('tokenizer.ggml.model');
  const tokens = m.strings('tokenizer.ggml.tokens');
  if (!tokens?.length) throw new GgufReadError(`${where}: no tokenizer.ggml.tokens: the file has no tokenizer`);
  const types = m.numbers('tokenizer.ggml.token_type') ?? [];
  if (types.length && types.length !== tokens.length) throw new GgufReadError(`${where}: tokenizer.ggml.token_type has ${types.length} entries for ${tokens.length} tokens`);
  const idOf = (k: string) => {
    const v = m.optInt(k);
    return v !== undefined && v < tokens.length ? v : undefined;
  };
  const bos = idOf('tokenizer.ggml.bos_token_id');
  const eos = idOf('tokenizer.ggml.eos_token_id');
  const unk = idOf('tokenizer.ggml.unknown_token_id');
  const pad = idOf('tokenizer.ggml.padding_token_id');
  const addBos = m.bool('tokenizer.ggml.add_bos_token') ?? model === 'llama';
  const addEos = m.bool('tokenizer.ggml.add_eos_token') ?? false;
  const vocab: Record<string, number> = {};
  const added: Json[] = [];
  tokens.forEach((t, id) => {
    const type = types[id] ?? 1;
    if (type === 3 || type === 4 || (id === bos || id === eos)) added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type !== 4 });
    if (!(t in vocab)) vocab[t] = id;
  });
  const special = (id: number | undefined) => (id === undefined ? null : tokens[id]);
  const post = (): Json => {
    const single: Json[] = [];
    const specials: Json = {};
    if (addBos && bos !== undefined) (single.push({ SpecialToken: { id: tokens[bos], type_id: 0 } }), (specials[tokens[bos]] = { id: tokens[bos], ids: [bos], tokens: [tokens[bos]] }));
    single.push({ Sequence: { id: 'A', type_id: 0 } });
    if (addEos && eos !== undefined) (single.push({ SpecialToken: { id: tokens[eos], type_id: 0 } }), (specials[tokens[eos]] = { id: tokens[eos], ids: [eos], tokens: [tokens[eos]] }));
    return { type: 'TemplateProcessing', single, pair: [...single, ...single.map((x) => ((x as Json).Sequence ? { Sequence: { id: 'B', type_id: 1 } } : x))], special_tokens: specials };
  };
  let tokenizer: Json;
  if (model === 'llama') {
    const scores = m.numbers('tokenizer.ggml.scores');
    if (!scores || scores.length !== tokens.length) throw new GgufReadError(`${where}: a "llama" tokenizer needs tokenizer.ggml.scores for each of its ${tokens.length} tokens`);
    // Every split of a normal piece into two vocabulary pieces, ranked by the piece's score
    // (highest first; among equal scores, lower id first, then the shorter left part).
    const merges: [string, string, number, number, number][] = [];
    tokens.forEach((t, id) => {
      if ((types[id] ?? 1) !== 1) return;
      const cps = [...t];
      for (let i = 1; i < cps.length; i++) {
        const a = cps.slice(0, i).join('');
        const b = cps.slice(i).join('');
        const ia = vocab[a];
        const ib = vocab[b];
        if (ia === undefined || ib === undefined) continue;
        if ((types[ia] ?? 1) !== 1 && (types[ia] ?? 1) !== 6) continue;
        if ((types[ib] ?? 1) !== 1 && (types[ib] ?? 1) !== 6) continue;
        merges.push([a, b, scores[id], id, i]);
      }
    });
    merges.sort((x, y) => y[2] - x[2] || x[3] - y[3] || x[4] - y[4]);
    const prefix = m.bool('tokenizer.ggml.add_space_prefix') ?? true;
    tokenizer = {
      version: '1.0',
      added_tokens: added,
      normalizer: { type: 'Sequence', normalizers: [...(prefix ? [{ type: 'Prepend', prepend: '▁' }] : []), { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      post_processor: post(),
      decoder: {
        type: 'Sequence',
        decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, ...(prefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])],
      },
      model: { type: 'BPE', dropout: null, unk_token: special(unk), continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: merges.map(([a, b]) => [a, b]) },
    };
  } else if (model === 'gpt2') {
    const merges = (m.strings('tokenizer.ggml.merges') ?? []).map((s, i) => {
      const parts = s.split(' ');
      if (parts.length !== 2) throw new GgufReadError(`${where}: tokenizer.ggml.merges[${i}] is ${JSON.stringify(s)}, not two tokens`);
      return parts;
    });
    const pre = m.optStr('tokenizer.ggml.pre') ?? 'default';
    const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: useRegex });
    const split = (re: string) => ({ type: 'Split', pattern: { Regex: re }, behavior: 'Isolated', invert: false });
    const pres: Record<string, Json> = {
      qwen2: { type: 'Sequence', pretokenizers: [split(QWEN2_SPLIT_RE), byteLevel(false)] },
      'llama-bpe': { type: 'Sequence', pretokenizers: [split(LLAMA3_SPLIT_RE), byteLevel(false)] },
      llama3: { type: 'Sequence', pretokenizers: [split(LLAMA3_SPLIT_RE), byteLevel(false)] },
      'gpt-2': byteLevel(true),
      default: byteLevel(true),
      smollm: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] },
    };
    const preTok = pres[pre];
    if (!preTok) throw new GgufReadError(`${where}: tokenizer.ggml.pre is "${pre}", a pre-tokenizer webtune does not know (it knows ${Object.keys(pres).join(', ')}); its text would tokenize differently`);
    tokenizer = {
      version: '1.0',
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: preTok,
      post_processor: addBos || addEos ? post() : byteLevel(false),
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
    };
  } else throw new GgufReadError(`${where}: tokenizer.ggml.model is "${model}"; webtune reads "llama" (SentencePiece-style) and "gpt2" (byte-level BPE) vocabularies`);
  const config: Json = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    bos_token: special(bos),
    eos_token: special(eos),
    unk_token: special(unk),
    pad_token: special(pad),
    clean_up_tokenization_spaces: false,
  };
  const tmpl = m.optStr('tokenizer.chat_template');
  if (tmpl !== undefined) config.chat_template = tmpl;
  return { tokenizer, config };
}

/** config.json of a GGUF model. */
export function ggufConfig(f: GgufFile): Json {
  const m = ggufMeta(f);
  const where = f.source.name;
  const arch = m.str('general.architecture');
  const a = ARCHS[arch];
  if (!a) throw new GgufReadError(`${where}: general.architecture is "${arch}"; webtune loads GGUF models of ${Object.keys(ARCHS).join(', ')} (Llama family and Qwen2)`);
  const type = m.optStr('general.type');
  if (type !== undefined && type !== 'model') throw new GgufReadError(`${where}: general.type is "${type}": this is not a model (an adapter GGUF goes beside its base model, not in place of it)`);
  const embd = f.tensors.get('token_embd.weight');
  if (!embd || embd.shape.length !== 2) throw new GgufReadError(`${where}: no 2-D token_embd.weight tensor`);
  if (f.tensors.has('rope_freqs.weight')) throw new GgufReadError(`${where}: its rope_freqs tensor (Llama 3.1-style rope scaling) is not read by webtune yet`);
  const hidden = m.int(`${arch}.embedding_length`);
  const heads = m.int(`${arch}.attention.head_count`);
  const cfg: Json = {
    architectures: [a.hf],
    model_type: arch,
    hidden_size: hidden,
    intermediate_size: m.int(`${arch}.feed_forward_length`),
    num_hidden_layers: m.int(`${arch}.block_count`),
    num_attention_heads: heads,
    num_key_value_heads: m.optInt(`${arch}.attention.head_count_kv`) ?? heads,
    vocab_size: embd.shape[0],
    max_position_embeddings: m.int(`${arch}.context_length`, 2048),
    rms_norm_eps: m.num(`${arch}.attention.layer_norm_rms_epsilon`, 1e-5),
    rope_theta: m.num(`${arch}.rope.freq_base`, 10000),
    tie_word_embeddings: !f.tensors.has('output.weight'),
    attention_bias: arch === 'llama' && f.tensors.has('blk.0.attn_q.bias'),
    hidden_act: 'silu',
  };
  const kl = m.optInt(`${arch}.attention.key_length`);
  const headDim = kl ?? hidden / heads;
  if (kl !== undefined) cfg.head_dim = kl;
  const rd = m.optInt(`${arch}.rope.dimension_count`);
  if (rd !== undefined && rd !== headDim) cfg.partial_rotary_factor = rd / headDim;
  const st = m.optStr(`${arch}.rope.scaling.type`);
  if (st === 'linear') cfg.rope_scaling = { rope_type: 'linear', factor: m.num(`${arch}.rope.scaling.factor`) };
  else if (st !== undefined && st !== 'none') throw new GgufReadError(`${where}: rope scaling "${st}" is not supported (linear is)`);
  const bos = m.optInt('tokenizer.ggml.bos_token_id');
  const eos = m.optInt('tokenizer.ggml.eos_token_id');
  if (bos !== undefined) cfg.bos_token_id = bos;
  if (eos !== undefined) cfg.eos_token_id = eos;
  return cfg;
}

/** Open a GGUF model file as a model folder (see the header). */
export async function ggufModelFiles(source: ByteSource): Promise<GgufModelFiles> {
  const f = await openGguf(source);
  const config = ggufConfig(f);
  const arch = ggufMeta(f).str('general.architecture');
  const { permuteQK } = ARCHS[arch];
  const { tokenizer, config: tokConfig } = ggufTokenizerFiles(f);
  const heads = config.num_attention_heads as number;
  const kvHeads = config.num_key_value_heads as number;
  const text: Record<string, string> = {
    'config.json': JSON.stringify(config),
    'tokenizer.json': JSON.stringify(tokenizer),
    'tokenizer_config.json': JSON.stringify(tokConfig),
  };
  const byHf = new Map<string, GgufTensorEntry>();
  const types: Record<string, number> = {};
  const decoded: string[] = [];
  for (const t of f.tensors.values()) {
    const hf = hfTensorName(t.name);
    if (!hf) throw new GgufReadError(`${source.name}: tensor "${t.name}" has no place in a ${arch} model webtune knows`);
    if (!GGML_TYPES.has(t.type)) throw new GgufReadError(`${source.name}: tensor "${t.name}" is ${ggmlTypeName(t.type)}; webtune reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K`);
    byHf.set(hf, t);
    const tn = ggmlTypeName(t.type);
    types[tn] = (types[tn] ?? 0) + 1;
    if (t.type === GGML.Q4_K || t.type === GGML.Q5_K || t.type === GGML.Q6_K) decoded.push(t.name);
  }
  const permuteOf = (hf: string): number | undefined => {
    if (!permuteQK) return undefined;
    if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hf)) return heads;
    if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hf)) return kvHeads;
    return undefined;
  };
  const entry = (hf: string) => {
    const t = byHf.get(hf);
    if (!t) throw new GgufReadError(`${source.name} has no tensor for "${hf}"`);
    return t;
  };
  const rowsOf = (t: GgufTensorEntry) => (t.shape.length === 2 ? t.shape[0] : t.shape.length === 1 ? t.shape[0] : NaN);
  const tensorSource: TensorSource = {
    info(hf): TensorInfo {
      const t = entry(hf);
      const dtype = t.type === GGML.F16 ? 'F16' : t.type === GGML.BF16 ? 'BF16' : 'F32';
      return { name: hf, dtype, shape: [...t.shape], begin: t.begin, end: t.end };
    },
    async readF32(hf) {
      const t = entry(hf);
      const n = t.shape.reduce((a, d) => a * d, 1);
      let bytes = await readGgufTensorBytes(f, t.name);
      const heads = permuteOf(hf);
      if (heads !== undefined) {
        const rows = rowsOf(t);
        if (t.shape.length > 2 || rows % heads !== 0 || (rows / heads) % 2 !== 0) throw new GgufReadError(`${source.name}: "${t.name}" has ${rows} rows, not ${heads} heads of an even size`);
        bytes = gatherRows(bytes, bytes.length / rows, unpermuteRow(rows, heads));
      }
      return ggmlToF32(t.type, bytes, n);
    },
    async readBlocks(hf, format) {
      const t = entry(hf);
      if (t.shape.length !== 2 || !((t.type === GGML.Q8_0 && format === 'q8') || (t.type === GGML.Q4_0 && format === 'q4'))) return undefined;
      let bytes = await readGgufTensorBytes(f, t.name);
      const heads = permuteOf(hf);
      if (heads !== undefined) bytes = gatherRows(bytes, bytes.length / t.shape[0], unpermuteRow(t.shape[0], heads));
      return ggmlToEngineBlocks(t.type, bytes, t.shape[0], t.shape[1]) as QuantTensor;
    },
  };
  const checkpoint = new Map<string, TensorSource>([...byHf.keys()].map((k) => [k, tensorSource]));
  const conversion: GgufConversion = {
    types,
    decoded,
    note(precision) {
      const kinds = Object.entries(types).map(([k, n]) => `${n} ${k}`).join(', ');
      const parts = [`${source.name}: ${kinds} tensors`];
      if (decoded.length) {
        parts.push(
          precision === 'f32'
            ? `the ${decoded.length} K-quant tensors are decoded to f32 exactly`
            : `the ${decoded.length} K-quant tensors (Q4_K/Q5_K/Q6_K) are decoded and re-quantized to ${precision} 32-blocks, which adds up to half a ${precision} step of error per weight on top of the file's own quantization`,
        );
      }
      const exact = (types.Q8_0 && precision === 'q8') || (types.Q4_0 && precision === 'q4');
      if (exact) parts.push(`${precision === 'q8' ? 'Q8_0' : 'Q4_0'} tensors load as ${precision} blocks unchanged`);
      else if ((types.Q8_0 || types.Q4_0) && precision !== 'f32') parts.push(`Q8_0/Q4_0 tensors are re-quantized to ${precision}`);
      return parts.join('; ');
    },
  };
  return {
    name: source.name,
    gguf: f,
    architecture: config.architectures instanceof Array ? String(config.architectures[0]) : arch,
    conversion,
    permutedQK: permuteQK,
    async has(file) {
      return file in text;
    },
    async open(file) {
      if (!(file in text)) throw new GgufReadError(`${source.name} is a GGUF model: it has no ${file}`);
      const bytes = new TextEncoder().encode(text[file]);
      return { name: `${source.name}#${file}`, size: bytes.length, read: async (o: number, l: number) => bytes.subarray(o, o + l) };
    },
    async checkpoint() {
      return checkpoint;
    },
  };
}

/** Whether a file looks like a GGUF (by name or magic), for the page's drop and the CLI. */
export async function isGgufSource(source: ByteSource): Promise<boolean> {
  if (source.size < 4) return false;
  const b = await source.read(0, 4);
  return b[0] === 0x47 && b[1] === 0x47 && b[2] === 0x55 && b[3] === 0x46;
}
