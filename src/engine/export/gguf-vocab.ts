// A Hugging Face tokenizer (tokenizer.model / tokenizer.json / tokenizer_config.json) as the
// GGUF tokenizer metadata llama.cpp reads (the keys convert_hf_to_gguf.py writes):
//
//   tokenizer.ggml.model       "llama" (SentencePiece-style: tokens with scores, byte
//                              fallback <0xXX> tokens) or "gpt2" (byte-level BPE with merges)
//   tokenizer.ggml.pre         the pre-tokenizer llama.cpp applies before BPE ("default" for
//                              llama; for gpt2 recognised from tokenizer.json's split regex:
//                              "qwen2", "llama-bpe", "gpt-2", "smollm")
//   tokenizer.ggml.tokens      [string] every token, id order, padded to the model's vocab
//                              with "[PAD<id>]" (UNUSED) as the converter pads
//   tokenizer.ggml.scores      [f32] (llama) merge priority: higher merges first
//   tokenizer.ggml.token_type  [i32] NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4,
//                              UNUSED 5, BYTE 6
//   tokenizer.ggml.merges      [string] (gpt2) "left right", rank order
//   tokenizer.ggml.{bos,eos,unknown,padding}_token_id  u32
//   tokenizer.ggml.add_bos_token / add_eos_token       bool
//   tokenizer.chat_template    string
//
// SentencePiece vocabularies come from tokenizer.model itself (its pieces, scores and types,
// as the converter's _set_vocab_sentencepiece reads them) when the folder has it; otherwise
// from a byte-fallback BPE tokenizer.json, scored by merge rank (the piece made by merge k
// scores −k, so llama.cpp merges in the BPE order).

import { LLAMA3_SPLIT_RE, QWEN2_SPLIT_RE } from '../io/gguf-model.ts';
import { readText, type ModelFiles } from '../io/model-files.ts';
import type { ModelSpec } from '../model/config.ts';
import { ConfigError } from '../config/schema.ts';
import type { GgufValue } from './gguf.ts';

export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

type Json = Record<string, unknown>;

/** What the tokenizer metadata says, for the Modelfile and the tests. */
export interface GgufVocab {
  kv: [string, GgufValue][];
  model: 'llama' | 'gpt2';
  tokens: string[];
  eos?: number;
  bos?: number;
  chatTemplate?: string;
  /** Text of the tokens that end a turn or the text (eos, and <|im_end|>-style tokens the template emits). */
  stops: string[];
}

/** SentencePiece ModelProto pieces: field 1 of the model, each {1: piece, 2: score, 3: type}. */
export function readSentencePieceModel(bytes: Uint8Array, file = 'tokenizer.model'): { piece: string; score: number; type: number }[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = () => new ConfigError(`${file} is not a SentencePiece model (a truncated or foreign protobuf)`);
  const varint = (at: { p: number }, end: number): number => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (at.p >= end) throw bad();
      const b = bytes[at.p++];
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw bad();
  };
  const skip = (wire: number, at: { p: number }, end: number) => {
    if (wire === 0) varint(at, end);
    else if (wire === 1) at.p += 8;
    else if (wire === 2) {
      const n = varint(at, end); // read before adding: `at.p += varint()` would add to the old position
      at.p += n;
    }
    else if (wire === 5) at.p += 4;
    else throw bad();
    if (at.p > end) throw bad();
  };
  const pieces: { piece: string; score: number; type: number }[] = [];
  const at = { p: 0 };
  while (at.p < bytes.length) {
    const key = varint(at, bytes.length);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field !== 1 || wire !== 2) {
      skip(wire, at, bytes.length);
      continue;
    }
    const len = varint(at, bytes.length);
    const end = at.p + len;
    if (end > bytes.length) throw bad();
    let piece = '';
    let score = 0;
    let type = TOKEN_TYPE.NORMAL as number;
    while (at.p < end) {
      const k = varint(at, end);
      const f = Math.floor(k / 8);
      const w = k & 7;
      if (f === 1 && w === 2) {
        const n = varint(at, end);
        if (at.p + n > end) throw bad();
        piece = new TextDecoder().decode(bytes.subarray(at.p, at.p + n));
        at.p += n;
      } else if (f === 2 && w === 5) {
        if (at.p + 4 > end) throw bad();
        score = dv.getFloat32(at.p, true);
        at.p += 4;
      } else if (f === 3 && w === 0) type = varint(at, end);
      else skip(w, at, end);
    }
    pieces.push({ piece, score, type });
  }
  if (!pieces.length) throw bad();
  return pieces;
}

async function jsonOf(files: ModelFiles, name: string): Promise<Json | undefined> {
  if (!(await files.has(name))) return undefined;
  try {
    const v: unknown = JSON.parse(await readText(files, name));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch (e) {
    throw new ConfigError(`${files.name}/${name} is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

const QWEN2_RE = QWEN2_SPLIT_RE;
const LLAMA3_RE = LLAMA3_SPLIT_RE;

/** The split regex of a byte-level tokenizer.json's pre-tokenizer (undefined: ByteLevel's own GPT-2 regex). */
function splitRegexes(pre: unknown): { regexes: string[]; digits: boolean; byteLevelRegex: boolean } {
  const out = { regexes: [] as string[], digits: false, byteLevelRegex: false };
  const visit = (p: unknown) => {
    if (typeof p !== 'object' || p === null) return;
    const o = p as Json;
    if (o.type === 'Sequence' && Array.isArray(o.pretokenizers)) o.pretokenizers.forEach(visit);
    else if (o.type === 'Split') {
      const pat = o.pattern as Json | undefined;
      if (pat && typeof pat.Regex === 'string') out.regexes.push(pat.Regex);
    } else if (o.type === 'Digits') out.digits = true;
    else if (o.type === 'ByteLevel' && o.use_regex !== false) out.byteLevelRegex = true;
  };
  visit(pre);
  return out;
}

/** llama.cpp's pre-tokenizer name for a byte-level tokenizer.json. */
export function ggufPreTokenizer(tok: Json, where: string): string {
  const s = splitRegexes(tok.pre_tokenizer);
  if (s.regexes.length === 1 && s.regexes[0] === QWEN2_RE && !s.digits) return 'qwen2';
  if (s.regexes.length === 1 && s.regexes[0] === LLAMA3_RE && !s.digits) return 'llama-bpe';
  if (!s.regexes.length && s.digits && s.byteLevelRegex) return 'smollm';
  if (!s.regexes.length && !s.digits && s.byteLevelRegex) return 'gpt-2';
  throw new ConfigError(
    `${where}: its pre-tokenizer (${JSON.stringify(tok.pre_tokenizer).slice(0, 200)}) is not one llama.cpp is known to name here (Qwen2, Llama 3, SmolLM, GPT-2); a GGUF written with another would tokenize differently`,
  );
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/** The chat template of a model folder: tokenizer_config.json's chat_template, or chat_template.jinja / .json. */
export async function chatTemplateOf(files: ModelFiles, cfg: Json | undefined): Promise<string | undefined> {
  const t = cfg?.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const def = t.find((x) => typeof x === 'object' && x !== null && (x as Json).name === 'default') as Json | undefined;
    if (def && typeof def.template === 'string') return def.template;
  }
  if (await files.has('chat_template.jinja')) return readText(files, 'chat_template.jinja');
  const j = await jsonOf(files, 'chat_template.json');
  return typeof j?.chat_template === 'string' ? j.chat_template : undefined;
}

/** The GGUF tokenizer metadata of a Hugging Face model folder, for a model with `spec.vocab` rows. */
export async function ggufVocab(files: ModelFiles, spec: ModelSpec): Promise<GgufVocab> {
  const cfg = await jsonOf(files, 'tokenizer_config.json');
  const tok = await jsonOf(files, 'tokenizer.json');
  const model = tok?.model as Json | undefined;
  const byteLevel = model?.type === 'BPE' && model.byte_fallback !== true;
  const tokens: string[] = [];
  const types: number[] = [];
  const scores: number[] = [];
  let merges: string[] | undefined;
  let kind: 'llama' | 'gpt2';
  const ids = new Map<string, number>();

  if (!byteLevel && (await files.has('tokenizer.model'))) {
    kind = 'llama';
    const src = await files.open('tokenizer.model');
    for (const p of readSentencePieceModel(await src.read(0, src.size), `${files.name}/tokenizer.model`)) {
      ids.set(p.piece, tokens.length);
      tokens.push(p.piece);
      scores.push(p.score);
      types.push(p.type >= 1 && p.type <= 6 ? p.type : TOKEN_TYPE.NORMAL);
    }
  } else if (model?.type === 'BPE' && typeof model.vocab === 'object' && model.vocab !== null) {
    kind = byteLevel ? 'gpt2' : 'llama';
    const vocab = model.vocab as Record<string, number>;
    for (const [t, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || id < 0 || id > 10_000_000) throw new ConfigError(`${files.name}/tokenizer.json: token ${JSON.stringify(t)} has id ${String(id)}`);
      tokens[id] = t;
      ids.set(t, id);
    }
    const rawMerges = Array.isArray(model.merges) ? model.merges : [];
    const mergeList = rawMerges.map((m) => (Array.isArray(m) ? m.join(' ') : String(m)));
    if (kind === 'gpt2') merges = mergeList;
    else {
      // A SentencePiece BPE exported as tokenizer.json: the piece made by merge k scores −k.
      const rank = new Map<string, number>();
      mergeList.forEach((m, k) => {
        const piece = m.replace(' ', '');
        if (!rank.has(piece)) rank.set(piece, k);
      });
      for (let i = 0; i < tokens.length; i++) scores[i] = tokens[i] === undefined ? -1000 : -(rank.get(tokens[i]) ?? mergeList.length + i);
    }
  } else {
    throw new ConfigError(`${files.name}: GGUF export needs a BPE tokenizer.json (byte-level or byte-fallback) or a SentencePiece tokenizer.model; found ${model ? `a ${String(model.type)} tokenizer.json` : 'neither'}`);
  }
  const added = Array.isArray(tok?.added_tokens) ? (tok.added_tokens as Json[]) : [];
  for (const a of added) {
    if (typeof a.content !== 'string' || !Number.isInteger(a.id)) continue;
    const id = a.id as number;
    tokens[id] = a.content;
    ids.set(a.content, id);
    types[id] = a.special === true ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
    if (kind === 'llama' && scores[id] === undefined) scores[id] = -1000;
  }
  if (tokens.length > spec.vocab) throw new ConfigError(`${files.name}: the tokenizer has ${tokens.length} tokens, more than the model's ${spec.vocab} embedding rows`);
  for (let i = 0; i < spec.vocab; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.UNUSED;
      if (kind === 'llama') scores[i] = -1000;
      continue;
    }
    if (types[i] !== undefined) continue;
    if (kind === 'llama' && /^<0x[0-9A-Fa-f]{2}>$/.test(tokens[i])) types[i] = TOKEN_TYPE.BYTE;
    else types[i] = TOKEN_TYPE.NORMAL;
  }
  if (kind === 'llama' && cfg) {
    // Specials named by tokenizer_config.json are CONTROL tokens (LlamaHfVocab).
    for (const k of ['bos_token', 'eos_token', 'unk_token']) {
      const id = ids.get(tokenText(cfg[k]) ?? '\u0000');
      if (id !== undefined && types[id] === TOKEN_TYPE.NORMAL) types[id] = k === 'unk_token' ? TOKEN_TYPE.UNKNOWN : TOKEN_TYPE.CONTROL;
    }
  }
  const special = (key: string, fromConfig?: number): number | undefined => {
    const t = tokenText(cfg?.[key]);
    const id = t !== undefined ? ids.get(t) : undefined;
    return id ?? fromConfig;
  };
  const bos = special('bos_token', spec.bosTokenId);
  const eos = special('eos_token', spec.eosTokenIds[0]);
  const unk = special('unk_token');
  const pad = special('pad_token');
  const chatTemplate = await chatTemplateOf(files, cfg);
  const kv: [string, GgufValue][] = [
    ['tokenizer.ggml.model', { type: 'string', value: kind }],
    ['tokenizer.ggml.pre', { type: 'string', value: kind === 'llama' ? 'default' : ggufPreTokenizer(tok ?? {}, `${files.name}/tokenizer.json`) }],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', value: tokens }],
  ];
  if (kind === 'llama') kv.push(['tokenizer.ggml.scores', { type: 'array', of: 'f32', value: scores.map((s) => Math.fround(s)) }]);
  kv.push(['tokenizer.ggml.token_type', { type: 'array', of: 'i32', value: types }]);
  if (merges) kv.push(['tokenizer.ggml.merges', { type: 'array', of: 'string', value: merges }]);
  const u32 = (k: string, v: number | undefined) => {
    if (v !== undefined && v >= 0 && v < spec.vocab) kv.push([k, { type: 'u32', value: v }]);
  };
  u32('tokenizer.ggml.bos_token_id', bos);
  u32('tokenizer.ggml.eos_token_id', eos);
  u32('tokenizer.ggml.unknown_token_id', unk);
  u32('tokenizer.ggml.padding_token_id', pad);
  const addBos = typeof cfg?.add_bos_token === 'boolean' ? cfg.add_bos_token : kind === 'llama';
  const addEos = typeof cfg?.add_eos_token === 'boolean' ? cfg.add_eos_token : false;
  kv.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos }]);
  kv.push(['tokenizer.ggml.add_eos_token', { type: 'bool', value: addEos }]);
  if (chatTemplate !== undefined) kv.push(['tokenizer.chat_template', { type: 'string', value: chatTemplate }]);
  const stops = new Set<string>();
  for (const id of [eos, ...spec.eosTokenIds]) if (id !== undefined && tokens[id] !== undefined) stops.add(tokens[id]);
  for (const t of ['<|im_end|>', '<|eot_id|>', '<|end|>', '<end_of_turn>']) if (ids.has(t) && chatTemplate?.includes(t)) stops.add(t);
  return { kv, model: kind, tokens, eos, bos, chatTemplate, stops: [...stops] };
}
