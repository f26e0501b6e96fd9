// The typed model spec, parsed and validated from a Hugging Face config.json.
// One shape for every supported architecture; fields a family lacks take the value that
// family implies (GPT-2: LayerNorm, GELU, learned positions, tied embeddings).

import { describeValue, MAX_VOCAB, parseJsonLimited } from '../io/limits.ts';
// RoPE's scaling is the rope kernel's parameter (kernels/rope.ts); the config names it.
import type { RopeScaling } from '../kernels/rope.ts';

export type { RopeScaling };

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'MistralForCausalLM', 'GPT2LMHeadModel'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export interface ModelSpec {
  architecture: Architecture;
  /** 'llama' for the Llama family (Llama, Qwen2, Mistral share the block), 'gpt2' for GPT-2. */
  family: 'llama' | 'gpt2';
  /** Width of the residual stream. */
  hidden: number;
  /** MLP inner width (GPT-2: n_inner or 4·hidden). */
  intermediate: number;
  layers: number;
  heads: number;
  /** Key/value heads (grouped-query attention); equals `heads` without GQA. */
  kvHeads: number;
  headDim: number;
  vocab: number;
  maxPositions: number;
  /** RMSNorm (llama) or LayerNorm (gpt2) epsilon. */
  normEps: number;
  /** RoPE (llama family only). */
  rope?: { theta: number; rotaryDim: number; scaling: RopeScaling };
  /** Output projection shares the embedding matrix. */
  tieEmbeddings: boolean;
  /** Bias on q, k, v projections / on the output projection / on the MLP. */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  activation: 'silu' | 'gelu_tanh';
  bosTokenId?: number;
  eosTokenIds: number[];
}

/** A norm epsilon: positive (a zero or negative one divides by zero or by a negative variance) and small. */
const EPS = { above: 0, max: 0.1, want: 'a number in (0, 0.1]' };

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

type Json = Record<string, unknown>;

/** Largest width (hidden, intermediate, head_dim), layer count, head count and context read from config.json. */
export const MAX_MODEL_WIDTH = 1 << 18;
export const MAX_MODEL_LAYERS = 1024;
export const MAX_MODEL_HEADS = 1024;
export const MAX_POSITIONS = 1 << 24;

function reader(cfg: Json, file: string) {
  const bad = (key: string, want: string) =>
    new ModelConfigError(`${file}: field "${key}" should be ${want}, found ${describeValue(cfg[key])}`);
  const int = (key: string, fallback?: number, max = Number.MAX_SAFE_INTEGER, limit = ''): number => {
    const v = cfg[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(key, 'a positive integer');
    if (v > max) throw bad(key, `at most ${max}${limit ? ` (${limit}): the file is damaged or describes a model far past what a browser tab can hold` : ''}`);
    return v;
  };
  const num = (key: string, fallback?: number, domain?: { min?: number; max?: number; above?: number; want: string }): number => {
    const v = cfg[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(key, domain ? domain.want : 'a number');
    if (domain && ((domain.above !== undefined && !(v > domain.above)) || (domain.min !== undefined && v < domain.min) || (domain.max !== undefined && v > domain.max))) throw bad(key, domain.want);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = cfg[key] ?? fallback;
    if (typeof v !== 'boolean') throw bad(key, 'true or false');
    return v;
  };
  const ids = (key: string): number[] => {
    const v = cfg[key];
    if (v === undefined || v === null) return [];
    const list: unknown[] = Array.isArray(v) ? v : [v];
    if (list.length <= 64 && list.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) return list as number[];
    throw bad(key, 'a token id (a non-negative integer) or a list of them');
  };
  /** A token id field that may be absent or null. */
  const optId = (key: string): number | undefined => {
    const v = cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    throw bad(key, 'a token id (a non-negative integer) or null');
  };
  return { bad, int, num, bool, ids, optId };
}

/** BOS / EOS ids must name tokens of the vocabulary. */
function checkIds(r: ReturnType<typeof reader>, vocab: number, bos: number | undefined, eos: number[]): void {
  if (bos !== undefined && bos >= vocab) throw r.bad('bos_token_id', `a token id below vocab_size (${vocab})`);
  if (eos.some((id) => id >= vocab)) throw r.bad('eos_token_id', `token ids below vocab_size (${vocab})`);
}

function parseRopeScaling(cfg: Json, file: string): RopeScaling {
  // transformers >= 4.x: rope_scaling; newer: rope_parameters (which also carries rope_theta).
  const raw = cfg.rope_scaling ?? cfg.rope_parameters;
  if (raw === undefined || raw === null) return { type: 'default' };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ModelConfigError(`${file}: rope_scaling should be an object or null, found ${describeValue(raw)}`);
  const r = reader(raw as Json, `${file} rope_scaling`);
  const type = (raw as Json).rope_type ?? (raw as Json).type ?? 'default';
  const factor = { above: 0, max: 1e6, want: 'a number above 0' };
  switch (type) {
    case 'default':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: r.num('factor', undefined, factor) };
    case 'llama3': {
      const low = r.num('low_freq_factor', undefined, factor);
      const high = r.num('high_freq_factor', undefined, factor);
      if (!(high > low)) throw r.bad('high_freq_factor', `a number above low_freq_factor (${low})`);
      return {
        type: 'llama3',
        factor: r.num('factor', undefined, factor),
        lowFreqFactor: low,
        highFreqFactor: high,
        originalMaxPositions: r.int('original_max_position_embeddings', undefined, MAX_POSITIONS, 'MAX_POSITIONS'),
      };
    }
    default:
      throw new ModelConfigError(`${file}: rope scaling type ${describeValue(type)} is not supported (supported: default, linear, llama3)`);
  }
}

/** Parse config.json text (or an already-parsed object). `file` names it in errors. */
export function parseModelConfig(input: string | Json, file = 'config.json'): ModelSpec {
  let cfg: Json;
  if (typeof input === 'string') {
    const v = parseJsonLimited(input, file, (m) => new ModelConfigError(m));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ModelConfigError(`${file}: not a JSON object (found ${describeValue(v)})`);
    cfg = v as Json;
  } else cfg = input;
  const archs = cfg.architectures;
  const named: unknown = Array.isArray(archs) ? archs[0] : undefined;
  const arch = SUPPORTED_ARCHITECTURES.find((a) => a === named);
  if (!arch) {
    throw new ModelConfigError(
      `${file}: architecture ${typeof named === 'string' ? describeValue(named) : '(none given in "architectures")'} is not supported; ` +
        `webtune runs ${SUPPORTED_ARCHITECTURES.join(', ')}`,
    );
  }
  const r = reader(cfg, file);
  if (arch === 'GPT2LMHeadModel') {
    const hidden = r.int('n_embd', undefined, MAX_MODEL_WIDTH, 'MAX_MODEL_WIDTH');
    const heads = r.int('n_head', undefined, MAX_MODEL_HEADS, 'MAX_MODEL_HEADS');
    if (hidden % heads !== 0) throw r.bad('n_head', `a divisor of n_embd (${hidden})`);
    const act = cfg.activation_function ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') throw r.bad('activation_function', '"gelu_new"');
    const vocab = r.int('vocab_size', undefined, MAX_VOCAB, 'MAX_VOCAB');
    const bosTokenId = r.optId('bos_token_id');
    const eosTokenIds = r.ids('eos_token_id');
    checkIds(r, vocab, bosTokenId, eosTokenIds);
    return {
      architecture: arch,
      family: 'gpt2',
      hidden,
      intermediate: cfg.n_inner == null ? 4 * hidden : r.int('n_inner', undefined, MAX_MODEL_WIDTH, 'MAX_MODEL_WIDTH'),
      layers: r.int('n_layer', undefined, MAX_MODEL_LAYERS, 'MAX_MODEL_LAYERS'),
      heads,
      kvHeads: heads,
      headDim: hidden / heads,
      vocab,
      maxPositions: r.int('n_positions', undefined, MAX_POSITIONS, 'MAX_POSITIONS'),
      normEps: r.num('layer_norm_epsilon', 1e-5, EPS),
      tieEmbeddings: true,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      activation: 'gelu_tanh',
      bosTokenId,
      eosTokenIds,
    };
  }
  const hidden = r.int('hidden_size', undefined, MAX_MODEL_WIDTH, 'MAX_MODEL_WIDTH');
  const heads = r.int('num_attention_heads', undefined, MAX_MODEL_HEADS, 'MAX_MODEL_HEADS');
  const kvHeads = r.int('num_key_value_heads', heads, MAX_MODEL_HEADS, 'MAX_MODEL_HEADS');
  if (heads % kvHeads !== 0) throw r.bad('num_key_value_heads', `a divisor of num_attention_heads (${heads})`);
  const headDim = cfg.head_dim == null ? hidden / heads : r.int('head_dim', undefined, MAX_MODEL_WIDTH, 'MAX_MODEL_WIDTH');
  if (!Number.isInteger(headDim)) throw r.bad('num_attention_heads', `a divisor of hidden_size (${hidden}) when head_dim is absent`);
  const act = cfg.hidden_act ?? 'silu';
  if (act !== 'silu') throw r.bad('hidden_act', '"silu"');
  if (arch === 'MistralForCausalLM' && cfg.sliding_window != null) {
    const sw = r.int('sliding_window');
    const maxPos = r.int('max_position_embeddings', undefined, MAX_POSITIONS, 'MAX_POSITIONS');
    if (sw < maxPos) {
      throw new ModelConfigError(
        `${file}: sliding_window ${sw} < max_position_embeddings ${maxPos}; webtune runs Mistral without a sliding window only`,
      );
    }
  }
  const params = typeof cfg.rope_parameters === 'object' && cfg.rope_parameters !== null ? (cfg.rope_parameters as Json) : {};
  const THETA = { above: 0, max: 1e12, want: 'a positive number' };
  const theta = params.rope_theta !== undefined ? reader(params, `${file} rope_parameters`).num('rope_theta', undefined, THETA) : r.num('rope_theta', 10000, THETA);
  const partial = cfg.partial_rotary_factor == null ? 1 : r.num('partial_rotary_factor', undefined, { above: 0, max: 1, want: 'a number in (0, 1]' });
  const rotaryDim = Math.floor(headDim * partial);
  if (rotaryDim % 2 !== 0 || rotaryDim <= 0) throw r.bad('partial_rotary_factor', `a factor giving an even rotary size of head_dim ${headDim}`);
  const vocab = r.int('vocab_size', undefined, MAX_VOCAB, 'MAX_VOCAB');
  const bosTokenId = r.optId('bos_token_id');
  const eosTokenIds = r.ids('eos_token_id');
  checkIds(r, vocab, bosTokenId, eosTokenIds);
  const isQwen2 = arch === 'Qwen2ForCausalLM';
  const attnBias = r.bool('attention_bias', false);
  return {
    architecture: arch,
    family: 'llama',
    hidden,
    intermediate: r.int('intermediate_size', undefined, MAX_MODEL_WIDTH, 'MAX_MODEL_WIDTH'),
    layers: r.int('num_hidden_layers', undefined, MAX_MODEL_LAYERS, 'MAX_MODEL_LAYERS'),
    heads,
    kvHeads,
    headDim,
    vocab,
    maxPositions: r.int('max_position_embeddings', 2048, MAX_POSITIONS, 'MAX_POSITIONS'),
    normEps: r.num('rms_norm_eps', 1e-6, EPS),
    rope: { theta, rotaryDim, scaling: parseRopeScaling(cfg, file) },
    tieEmbeddings: r.bool('tie_word_embeddings', false),
    qkvBias: isQwen2 || attnBias,
    oBias: !isQwen2 && attnBias,
    mlpBias: r.bool('mlp_bias', false),
    activation: 'silu',
    bosTokenId,
    eosTokenIds,
  };
}

/** Parameter count implied by the spec (embeddings counted once when tied). */
export function parameterCount(s: ModelSpec): number {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const attn = s.hidden * (q + 2 * kv) + q * s.hidden + (s.qkvBias ? q + 2 * kv : 0) + (s.oBias ? s.hidden : 0);
  const mlpMats = s.family === 'llama' ? 3 : 2;
  const mlp = mlpMats * s.hidden * s.intermediate + (s.mlpBias ? (s.family === 'llama' ? 2 * s.intermediate : s.intermediate) + s.hidden : 0);
  const norms = s.family === 'llama' ? 2 * s.hidden : 4 * s.hidden;
  const perLayer = attn + mlp + norms;
  const embed = s.vocab * s.hidden + (s.family === 'gpt2' ? s.maxPositions * s.hidden : 0);
  const finalNorm = s.family === 'llama' ? s.hidden : 2 * s.hidden;
  const head = s.tieEmbeddings ? 0 : s.vocab * s.hidden;
  return embed + s.layers * perLayer + finalNorm + head;
}
