// The typed model spec, parsed and validated from a Hugging Face config.json.
// One shape for every supported architecture; fields a family lacks take the value that
// family implies (GPT-2: LayerNorm, GELU, learned positions, tied embeddings).

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

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

type Json = Record<string, unknown>;

function reader(cfg: Json, file: string) {
  const bad = (key: string, want: string) =>
    new ModelConfigError(`${file}: field "${key}" should be ${want}, found ${JSON.stringify(cfg[key])}`);
  const int = (key: string, fallback?: number): number => {
    const v = cfg[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(key, 'a positive integer');
    return v;
  };
  const num = (key: string, fallback?: number): number => {
    const v = cfg[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(key, 'a number');
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
    if (typeof v === 'number') return [v];
    if (Array.isArray(v) && v.every((x) => Number.isInteger(x))) return v as number[];
    throw bad(key, 'a token id or a list of them');
  };
  return { bad, int, num, bool, ids };
}

function parseRopeScaling(cfg: Json, file: string): RopeScaling {
  // transformers >= 4.x: rope_scaling; newer: rope_parameters (which also carries rope_theta).
  const raw = cfg.rope_scaling ?? cfg.rope_parameters;
  if (raw === undefined || raw === null) return { type: 'default' };
  if (typeof raw !== 'object') throw new ModelConfigError(`${file}: rope_scaling should be an object or null`);
  const r = reader(raw as Json, `${file} rope_scaling`);
  const type = (raw as Json).rope_type ?? (raw as Json).type ?? 'default';
  switch (type) {
    case 'default':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: r.num('factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: r.num('factor'),
        lowFreqFactor: r.num('low_freq_factor'),
        highFreqFactor: r.num('high_freq_factor'),
        originalMaxPositions: r.int('original_max_position_embeddings'),
      };
    default:
      throw new ModelConfigError(`${file}: rope scaling type "${String(type)}" is not supported (supported: default, linear, llama3)`);
  }
}

/** Parse config.json text (or an already-parsed object). `file` names it in errors. */
export function parseModelConfig(input: string | Json, file = 'config.json'): ModelSpec {
  let cfg: Json;
  if (typeof input === 'string') {
    try {
      const v: unknown = JSON.parse(input);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      cfg = v as Json;
    } catch (e) {
      throw new ModelConfigError(`${file}: not a JSON object (${e instanceof Error ? e.message : String(e)})`);
    }
  } else cfg = input;
  const archs = cfg.architectures;
  const named: unknown = Array.isArray(archs) ? archs[0] : undefined;
  const arch = SUPPORTED_ARCHITECTURES.find((a) => a === named);
  if (!arch) {
    throw new ModelConfigError(
      `${file}: architecture ${typeof named === 'string' ? `"${named}"` : '(none given in "architectures")'} is not supported; ` +
        `webtune runs ${SUPPORTED_ARCHITECTURES.join(', ')}`,
    );
  }
  const r = reader(cfg, file);
  if (arch === 'GPT2LMHeadModel') {
    const hidden = r.int('n_embd');
    const heads = r.int('n_head');
    if (hidden % heads !== 0) throw r.bad('n_head', `a divisor of n_embd (${hidden})`);
    const act = cfg.activation_function ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') throw r.bad('activation_function', '"gelu_new"');
    return {
      architecture: arch,
      family: 'gpt2',
      hidden,
      intermediate: cfg.n_inner == null ? 4 * hidden : r.int('n_inner'),
      layers: r.int('n_layer'),
      heads,
      kvHeads: heads,
      headDim: hidden / heads,
      vocab: r.int('vocab_size'),
      maxPositions: r.int('n_positions'),
      normEps: r.num('layer_norm_epsilon', 1e-5),
      tieEmbeddings: true,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      activation: 'gelu_tanh',
      bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : undefined,
      eosTokenIds: r.ids('eos_token_id'),
    };
  }
  const hidden = r.int('hidden_size');
  const heads = r.int('num_attention_heads');
  const kvHeads = r.int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) throw r.bad('num_key_value_heads', `a divisor of num_attention_heads (${heads})`);
  const headDim = cfg.head_dim == null ? hidden / heads : r.int('head_dim');
  if (!Number.isInteger(headDim)) throw r.bad('num_attention_heads', `a divisor of hidden_size (${hidden}) when head_dim is absent`);
  const act = cfg.hidden_act ?? 'silu';
  if (act !== 'silu') throw r.bad('hidden_act', '"silu"');
  if (arch === 'MistralForCausalLM' && cfg.sliding_window != null) {
    const sw = r.int('sliding_window');
    const maxPos = r.int('max_position_embeddings');
    if (sw < maxPos) {
      throw new ModelConfigError(
        `${file}: sliding_window ${sw} < max_position_embeddings ${maxPos}; webtune runs Mistral without a sliding window only`,
      );
    }
  }
  const params = typeof cfg.rope_parameters === 'object' && cfg.rope_parameters !== null ? (cfg.rope_parameters as Json) : {};
  const theta = typeof params.rope_theta === 'number' ? params.rope_theta : r.num('rope_theta', 10000);
  const partial = typeof cfg.partial_rotary_factor === 'number' ? cfg.partial_rotary_factor : 1;
  const rotaryDim = Math.floor(headDim * partial);
  if (rotaryDim % 2 !== 0 || rotaryDim <= 0) throw r.bad('partial_rotary_factor', `a factor giving an even rotary size of head_dim ${headDim}`);
  const isQwen2 = arch === 'Qwen2ForCausalLM';
  const attnBias = r.bool('attention_bias', false);
  return {
    architecture: arch,
    family: 'llama',
    hidden,
    intermediate: r.int('intermediate_size'),
    layers: r.int('num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    vocab: r.int('vocab_size'),
    maxPositions: r.int('max_position_embeddings', 2048),
    normEps: r.num('rms_norm_eps', 1e-6),
    rope: { theta, rotaryDim, scaling: parseRopeScaling(cfg, file) },
    tieEmbeddings: r.bool('tie_word_embeddings', false),
    qkvBias: isQwen2 || attnBias,
    oBias: !isQwen2 && attnBias,
    mlpBias: r.bool('mlp_bias', false),
    activation: 'silu',
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : undefined,
    eosTokenIds: r.ids('eos_token_id'),
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
