// The fuzzer's targets: one entry per reader of user files. Each reads its input exactly as the
// product does (the same functions) and, where one exists, checks an accepted input against a
// validity oracle. Adding a reader is one entry in TARGETS (a GGUF reader: one line with
// ggufReaderTarget, see the end of this file).

import { gguf } from '@huggingface/gguf';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTexts } from '../../src/engine/data/corpus.ts';
import { encodeRows, parseDataset } from '../../src/engine/data/dataset.ts';
import { parseParquet } from '../../src/engine/data/parquet.ts';
import { TextTokenizer } from '../../src/engine/data/tokenizer.ts';
import { writeGguf, type GgufScalarType, type GgufTensor, type GgufValue } from '../../src/engine/export/gguf.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { MAX_VOCAB } from '../../src/engine/io/limits.ts';
import { DTYPE_BYTES, SafetensorsFile, writeSafetensors, type Dtype } from '../../src/engine/io/safetensors.ts';
import { parameterCount, parseModelConfig, type ModelSpec } from '../../src/engine/model/config.ts';
import { mutateJsonTree, type FuzzInput, type FuzzTarget, type Rng } from './lib.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const file = (p: string) => new Uint8Array(readFileSync(join(ROOT, p)));
const enc = new TextEncoder();
/** As Node's readFileSync(…, 'utf8') decodes (a BOM kept; the page's File.text() drops it). */
const text = (b: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(b);
const MODELS = ['llama-gqa-tied', 'llama3-rope', 'qwen2-bias', 'gpt2'];

/** A JSON file of the input mutated as a tree (when it parses), re-serialized. */
function jsonStructured(input: FuzzInput, rng: Rng, which = rng.int(input.length)): FuzzInput | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text(input[which].bytes));
  } catch {
    return undefined;
  }
  const out = input.slice();
  out[which] = { name: input[which].name, bytes: enc.encode(JSON.stringify(mutateJsonTree(v, rng), null, rng.chance(0.5) ? 1 : undefined)) };
  return out;
}

// ---------------------------------------------------------------------------------------
// safetensors

function smallSafetensors(): Uint8Array {
  const t = (name: string, dtype: Dtype, shape: number[]) => {
    const n = shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[dtype];
    return { name, dtype, shape, data: Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff) };
  };
  return writeSafetensors([t('a.weight', 'F32', [3, 4]), t('b', 'F16', [5]), t('c', 'BF16', [2, 2]), t('d', 'I32', [3]), t('e', 'I64', [2]), t('f', 'U8', [0]), t('g', 'BOOL', [7])], { format: 'pt' });
}

/** An independent check of a safetensors file: header entries well-formed and tiling the data exactly. */
function safetensorsProblem(b: Uint8Array): string | undefined {
  if (b.length < 8) return 'shorter than 8 bytes';
  const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > b.length) return 'header past the end';
  let h: unknown;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(8, 8 + n)));
  } catch {
    return 'header not JSON';
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return 'header not an object';
  const spans: [number, number][] = [];
  for (const [k, v] of Object.entries(h)) {
    if (k === '__metadata__') continue;
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) return `${k}: not an object`;
    if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_BYTES)) return `${k}: dtype`;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return `${k}: shape`;
    const o = t.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((d) => Number.isSafeInteger(d) && d >= 0) || o[1] < o[0]) return `${k}: offsets`;
    if (o[1] - o[0] !== t.shape.reduce((a: number, d: number) => a * d, 1) * DTYPE_BYTES[t.dtype as Dtype]) return `${k}: size`;
    spans.push([o[0], o[1]]);
  }
  spans.sort((a, c) => a[0] - c[0] || a[1] - c[1]);
  let end = 0;
  for (const [s, e] of spans) {
    if (s !== end) return 'tensors do not tile the data';
    end = e;
  }
  if (8 + n + end !== b.length) return 'bytes after the last tensor';
  return undefined;
}

const safetensors: FuzzTarget<null> = {
  name: 'safetensors',
  title: 'safetensors (model, adapter and checkpoint files)',
  async setup() {
    return null;
  },
  seeds: () => [
    [{ name: 'model.safetensors', bytes: file('tests/fixtures/models/llama-gqa-tied/model.safetensors') }],
    [{ name: 'adapter_model.safetensors', bytes: file('tests/fixtures/peft/llama-gqa-tied/adapter_model.safetensors') }],
    [{ name: 'small.safetensors', bytes: smallSafetensors() }],
  ],
  structured(input, rng) {
    // the header as a JSON tree, re-packed with a correct length (or a wrong one)
    const b = input[0].bytes;
    if (b.length < 8) return undefined;
    const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
    if (8 + n > b.length) return undefined;
    let h: unknown;
    try {
      h = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
    } catch {
      return undefined;
    }
    const hb = enc.encode(JSON.stringify(rng.chance(0.05) ? { ...(h as object), ...Object.fromEntries(Array.from({ length: rng.pick([1000, 20000]) }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }])) } : mutateJsonTree(h, rng)));
    const out = new Uint8Array(8 + hb.length + (b.length - 8 - n));
    new DataView(out.buffer).setBigUint64(0, rng.chance(0.9) ? BigInt(hb.length) : rng.pick([0n, 1n << 62n, BigInt(hb.length + 1), 0xffffffffffffffffn]), true);
    out.set(hb, 8);
    out.set(b.subarray(8 + n), 8 + hb.length);
    return [{ name: input[0].name, bytes: out }];
  },
  async run(input) {
    const f = await SafetensorsFile.open(bytesSource(input[0].bytes, input[0].name));
    for (const name of f.names) {
      const t = f.info(name);
      if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16') await f.readF32(name);
      else if (t.dtype === 'I32' || t.dtype === 'I64') await f.readI32(name).catch((e: unknown) => {
        if (!(e instanceof Error && /does not fit in int32/.test(e.message))) throw e;
      });
      else await f.readRaw(name);
    }
    return f;
  },
  wrong: (input) => {
    const p = safetensorsProblem(input[0].bytes);
    return p && `accepted a file that is not valid safetensors (${p})`;
  },
};

// ---------------------------------------------------------------------------------------
// config.json

/** Values a model spec must have, checked on what the parser returned. */
function specProblem(s: ModelSpec): string | undefined {
  const pos = (x: number) => Number.isSafeInteger(x) && x > 0;
  if (![s.hidden, s.intermediate, s.layers, s.heads, s.kvHeads, s.headDim, s.vocab, s.maxPositions].every(pos)) return 'a size is not a positive integer';
  if (s.vocab > MAX_VOCAB) return `vocab ${s.vocab}`;
  if (s.hidden > 1 << 18 || s.intermediate > 1 << 18 || s.layers > 1024 || s.heads > 1024) return 'absurd sizes';
  if (!(s.normEps > 0 && s.normEps <= 0.1)) return `norm epsilon ${s.normEps}`;
  if (s.heads % s.kvHeads !== 0) return 'heads not a multiple of kv heads';
  if (s.rope) {
    if (!(s.rope.rotaryDim > 0 && s.rope.rotaryDim <= s.headDim && s.rope.rotaryDim % 2 === 0)) return `rotary dim ${s.rope.rotaryDim} of head dim ${s.headDim}`;
    if (!(s.rope.theta > 0 && Number.isFinite(s.rope.theta))) return `rope theta ${s.rope.theta}`;
    const sc = s.rope.scaling;
    if (sc.type !== 'default' && !(sc.factor > 0 && Number.isFinite(sc.factor))) return `rope factor ${sc.factor}`;
    if (sc.type === 'llama3' && !(sc.highFreqFactor > sc.lowFreqFactor && sc.lowFreqFactor > 0)) return 'llama3 frequency factors';
  }
  if (s.eosTokenIds.some((id) => !(Number.isInteger(id) && id >= 0 && id < s.vocab))) return `EOS ${s.eosTokenIds} outside the vocabulary of ${s.vocab}`;
  if (s.bosTokenId !== undefined && !(Number.isInteger(s.bosTokenId) && s.bosTokenId >= 0 && s.bosTokenId < s.vocab)) return `BOS ${s.bosTokenId} outside the vocabulary`;
  if (!Number.isFinite(parameterCount(s))) return 'parameter count not finite';
  return undefined;
}

const config: FuzzTarget<null> = {
  name: 'config',
  title: 'config.json',
  async setup() {
    return null;
  },
  seeds: () => [...MODELS.map((m) => `tests/fixtures/models/${m}/config.json`), 'public/models/tiny-kjv/config.json'].map((p) => [{ name: 'config.json', bytes: file(p) }]),
  structured: (input, rng) => jsonStructured(input, rng, 0),
  async run(input) {
    return parseModelConfig(text(input[0].bytes), input[0].name);
  },
  wrong: (_input, spec) => {
    const p = specProblem(spec as ModelSpec);
    return p && `accepted a config out of its domain: ${p}`;
  },
};

// ---------------------------------------------------------------------------------------
// tokenizer.json + tokenizer_config.json (chat template included)

const CHATML = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const SAMPLE = 'In the beginning God created the heaven and the earth. And the earth was without form, and void; 123 — ünïcödé 😀 <s> </s>\n'.repeat(8);
const CHAT = [{ role: 'system', content: 'Speak plainly.' }, { role: 'user', content: 'Who is my shepherd?' }, { role: 'assistant', content: 'The LORD.' }];

const tokenizer: FuzzTarget<null> = {
  name: 'tokenizer',
  title: 'tokenizer.json + tokenizer_config.json (chat template)',
  async setup() {
    return null;
  },
  seeds: () => {
    const cfg = (p: string, template: boolean) => {
      const c = JSON.parse(text(file(p))) as Record<string, unknown>;
      if (template) c.chat_template = CHATML;
      return enc.encode(JSON.stringify(c, null, 2));
    };
    return [
      [{ name: 'm/tokenizer.json', bytes: file('public/models/tiny-kjv/tokenizer.json') }, { name: 'm/tokenizer_config.json', bytes: cfg('public/models/tiny-kjv/tokenizer_config.json', true) }],
      [{ name: 'm/tokenizer.json', bytes: file('tests/fixtures/models/gpt2/tokenizer.json') }, { name: 'm/tokenizer_config.json', bytes: cfg('tests/fixtures/models/gpt2/tokenizer_config.json', true) }],
      [{ name: 'm/tokenizer.json', bytes: file('public/models/tiny-kjv/tokenizer.json') }, { name: 'm/tokenizer_config.json', bytes: cfg('public/models/tiny-kjv/tokenizer_config.json', false) }],
    ];
  },
  structured: (input, rng) => jsonStructured(input, rng),
  async run(input) {
    const tok = TextTokenizer.load(text(input[0].bytes), text(input[1].bytes), [], 'm/');
    const ids = tok.encode(SAMPLE, true);
    tok.decode(ids);
    tok.encodePrefix(SAMPLE.repeat(40), true, 64);
    if (tok.chatTemplate !== undefined) tok.encode(tok.applyChatTemplate(CHAT, true), false);
    return ids.length;
  },
};

// ---------------------------------------------------------------------------------------
// dataset files, parsed and tokenized as training and the preview do

let kjvTokenizer: TextTokenizer | undefined;
function builtinTokenizer(): TextTokenizer {
  kjvTokenizer ??= TextTokenizer.load(text(file('public/models/tiny-kjv/tokenizer.json')), text(file('public/models/tiny-kjv/tokenizer_config.json')));
  return kjvTokenizer;
}

function datasetSeeds(format: 'jsonl' | 'json' | 'csv' | 'txt'): FuzzInput[] {
  const lines = (p: string, n: number) => text(file(p)).split('\n').filter(Boolean).slice(0, n);
  const qa = lines('public/datasets/kjv-verse-ref.jsonl', 24).map((l) => JSON.parse(l) as Record<string, unknown>);
  const chat = lines('public/datasets/kjv-style-chat.jsonl', 8).map((l) => JSON.parse(l) as Record<string, unknown>);
  const texts = qa.map((r) => ({ text: Object.values(r).join(' ') }));
  const csv = (rows: Record<string, unknown>[]) => {
    const cols = Object.keys(rows[0]);
    const q = (v: unknown) => `"${(typeof v === 'string' ? v : JSON.stringify(v)).replace(/"/g, '""')}"`;
    return [cols.join(','), ...rows.map((r) => cols.map((c) => q(r[c])).join(','))].join('\r\n') + '\r\n';
  };
  const named = (ext: string, s: string): FuzzInput => [{ name: `data.${ext}`, bytes: enc.encode(s) }];
  switch (format) {
    case 'jsonl':
      return [qa, chat, texts].map((rows) => named('jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    case 'json':
      return [qa, chat, texts].map((rows, i) => named('json', JSON.stringify(i === 1 ? { data: rows } : rows, null, i)));
    case 'csv':
      return [qa, chat, texts].map((rows) => named('csv', csv(rows)));
    case 'txt':
      return [named('txt', texts.map((t) => t.text).join('\n')), named('txt', lines('public/datasets/kjv-style-chat.jsonl', 30).join('\n'))];
  }
}

function datasetTarget(format: 'jsonl' | 'json' | 'csv' | 'txt'): FuzzTarget<TextTokenizer> {
  return {
    name: format,
    title: `dataset .${format} (parsed, then the first 64 rows tokenized at T = 64 with prompt masking)`,
    async setup() {
      return builtinTokenizer();
    },
    seeds: () => datasetSeeds(format),
    structured(input, rng) {
      if (format === 'json') return jsonStructured(input, rng, 0);
      if (format !== 'jsonl') return undefined;
      // one record mutated as a tree
      const ls = text(input[0].bytes).split('\n');
      const i = rng.int(ls.length);
      try {
        ls[i] = JSON.stringify(mutateJsonTree(JSON.parse(ls[i]), rng));
      } catch {
        return undefined;
      }
      return [{ name: input[0].name, bytes: enc.encode(ls.join('\n')) }];
    },
    async run(input, tok) {
      const content = text(input[0].bytes);
      const parsed = parseDataset(input[0].name, content);
      const { examples } = encodeRows(parsed.rows.slice(0, 64), tok, { maxTokens: 65, maskPrompt: true, useChatTemplate: true });
      if (format === 'txt' || format === 'jsonl') readTexts(input[0].name, content);
      return examples.length;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Parquet

function parquetSeeds(): FuzzInput[] {
  const qa = text(file('public/datasets/kjv-verse-ref.jsonl')).split('\n').filter(Boolean).slice(0, 60).map((l) => JSON.parse(l) as { prompt: string; completion: string });
  const w = (columnData: { name: string; data: unknown[]; type?: string }[], opts: { codec?: string; rowGroupSize?: number; pageSize?: number } = {}) =>
    new Uint8Array(parquetWriteBuffer({ columnData, ...opts } as Parameters<typeof parquetWriteBuffer>[0]));
  const chat = qa.slice(0, 20).map((r) => JSON.stringify([{ role: 'user', content: r.prompt }, { role: 'assistant', content: r.completion }]));
  return [
    [{ name: 'train.parquet', bytes: w([{ name: 'prompt', data: qa.map((r) => r.prompt), type: 'STRING' }, { name: 'completion', data: qa.map((r) => r.completion), type: 'STRING' }]) }],
    [{ name: 'train.parquet', bytes: w([{ name: 'text', data: qa.map((r) => r.prompt + r.completion), type: 'STRING' }, { name: 'id', data: qa.map((_, i) => BigInt(i)), type: 'INT64' }], { codec: 'UNCOMPRESSED', rowGroupSize: 16, pageSize: 256 }) }],
    [{ name: 'train.parquet', bytes: w([{ name: 'messages', data: chat, type: 'STRING' }, { name: 'score', data: chat.map((_, i) => (i % 3 ? i / 7 : null)), type: 'DOUBLE' }, { name: 'ok', data: chat.map((_, i) => i % 2 === 0), type: 'BOOLEAN' }], { rowGroupSize: 7 }) }],
  ];
}

const parquet: FuzzTarget<TextTokenizer> = {
  name: 'parquet',
  title: 'Parquet (parsed, then the first 64 rows tokenized)',
  async setup() {
    return builtinTokenizer();
  },
  seeds: parquetSeeds,
  structured(input, rng) {
    // the footer (thrift metadata) and page headers are where a reader trusts numbers: flip there more often
    const b = input[0].bytes.slice();
    if (b.length < 16) return undefined;
    const from = rng.chance(0.5) ? Math.max(4, b.length - 8 - new DataView(b.buffer).getUint32(b.length - 8, true)) : 4;
    const span = rng.chance(0.5) ? b.length - 8 - from : 64;
    for (let k = 1 + rng.int(4); k > 0; k--) {
      const p = from + rng.int(Math.max(1, span));
      if (p < b.length - 8) b[p] = rng.chance(0.5) ? rng.int(256) : b[p] ^ (1 << rng.int(8));
    }
    return [{ name: input[0].name, bytes: b }];
  },
  async run(input, tok) {
    const parsed = await parseParquet(input[0].name, input[0].bytes, undefined, { maxRows: 1000 });
    encodeRows(parsed.rows.slice(0, 64), tok, { maxTokens: 65, maskPrompt: true, useChatTemplate: true });
    return parsed.rows.length;
  },
};

// ---------------------------------------------------------------------------------------
// GGUF: the writer, round-tripped through an independent reader (@huggingface/gguf)

interface GgufSpec {
  kv: [string, { type: string; of?: string; value: unknown }][];
  tensors: { name: string; type: string; shape: number[]; data: number[] }[];
}

function ggufSpecSeed(): GgufSpec {
  return {
    kv: [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['general.type', { type: 'string', value: 'adapter' }],
      ['adapter.type', { type: 'string', value: 'lora' }],
      ['adapter.lora.alpha', { type: 'f32', value: 16 }],
      ['test.u8', { type: 'u8', value: 200 }],
      ['test.i16', { type: 'i16', value: -300 }],
      ['test.u32', { type: 'u32', value: 4000000000 }],
      ['test.i32', { type: 'i32', value: -5 }],
      ['test.u64', { type: 'u64', value: '12345678901234567890' }],
      ['test.i64', { type: 'i64', value: '-9000000000000000000' }],
      ['test.f64', { type: 'f64', value: 0.1 }],
      ['test.bool', { type: 'bool', value: true }],
      ['test.arr', { type: 'array', of: 'i32', value: [1, -2, 3] }],
      ['test.strs', { type: 'array', of: 'string', value: ['a', 'bé'] }],
    ],
    tensors: [
      { name: 'blk.0.attn_q.weight.lora_a', type: 'F32', shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] },
      { name: 'blk.0.attn_q.weight.lora_b', type: 'F16', shape: [3, 2], data: [0x3c00, 0, 1, 2, 3, 0x7bff] },
    ],
  };
}

/** The writer's arguments from a spec: 64-bit integers given as decimal strings become bigints. */
function ggufArgs(spec: GgufSpec): { kv: [string, GgufValue][]; tensors: GgufTensor[] } {
  const big = (type: string, v: unknown) => ((type === 'u64' || type === 'i64') && typeof v === 'string' && /^-?\d+$/.test(v) ? BigInt(v) : v);
  if (!Array.isArray(spec.kv) || !Array.isArray(spec.tensors)) throw new Error('spec');
  const kv = spec.kv.map(([k, v]) => [k, v.type === 'array' ? { type: 'array', of: v.of as GgufScalarType, value: (v.value as unknown[]).map((x) => big(v.of ?? '', x)) } : { type: v.type, value: big(v.type, v.value) }] as [string, GgufValue]);
  const tensors = spec.tensors.map((t) => ({ name: t.name, type: t.type, shape: t.shape, data: t.type === 'F32' ? Float32Array.from(t.data) : Uint16Array.from(t.data) }) as GgufTensor);
  return { kv, tensors };
}

const ggufWrite: FuzzTarget<{ dir: string }> = {
  name: 'gguf-write',
  title: 'GGUF writer round trip (read back by @huggingface/gguf)',
  mentions: ['metadata', 'tensor', 'general.alignment'],
  async setup() {
    return { dir: mkdtempSync(join(tmpdir(), 'webtune-fuzz-gguf-')) };
  },
  seeds: () => [[{ name: 'adapter.gguf', bytes: enc.encode(JSON.stringify(ggufSpecSeed())) }]],
  structured: (input, rng) => jsonStructured(input, rng, 0),
  async run(input, ctx) {
    let spec: GgufSpec;
    let args: ReturnType<typeof ggufArgs>;
    try {
      spec = JSON.parse(text(input[0].bytes)) as GgufSpec;
      args = ggufArgs(spec);
    } catch {
      return { skipped: true }; // not a writer input: the mutation broke the test's own spec
    }
    const bytes = writeGguf(args.kv, args.tensors);
    const p = join(ctx.dir, 'a.gguf');
    writeFileSync(p, bytes);
    const r = await gguf(p, { allowLocalFile: true, typedMetadata: true });
    return { args, read: r.typedMetadata as unknown as Record<string, { value: unknown }>, infos: r.tensorInfos };
  },
  wrong(_input, result) {
    const r = result as { skipped?: boolean; args: ReturnType<typeof ggufArgs>; read: Record<string, { value: unknown }>; infos: { name: string; shape: bigint[] }[] };
    if (r.skipped) return undefined;
    const same = (type: string, a: unknown, b: unknown): boolean => {
      if (type === 'f32') return typeof b === 'number' && (Object.is(Math.fround(a as number), b) || (Number.isNaN(a) && Number.isNaN(b)));
      if (type === 'f64') return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
      if (type === 'u64' || type === 'i64') return BigInt(a as number | bigint) === BigInt(b as number | bigint);
      return a === b;
    };
    for (const [k, v] of r.args.kv) {
      const got = r.read[k]?.value;
      if (v.type === 'array') {
        const arr = got as unknown[];
        if (!Array.isArray(arr) || arr.length !== v.value.length || !v.value.every((x, i) => same(v.of, x, arr[i]))) return `metadata "${k}" read back differently`;
      } else if (!same(v.type, v.value, got)) return `metadata "${k}" (${v.type}) ${String(v.value)} read back as ${String(got)}`;
    }
    for (const [i, t] of r.args.tensors.entries()) {
      const info = r.infos[i];
      if (!info || info.name !== t.name || info.shape.map(Number).join() !== [...t.shape].reverse().join()) return `tensor "${t.name}" read back differently`;
    }
    return undefined;
  },
};

// ---------------------------------------------------------------------------------------
// The table

/** A target with its context type forgotten: the context only ever goes back to the target that made it. */
function entry<C>(t: FuzzTarget<C>): FuzzTarget<unknown> {
  return t as unknown as FuzzTarget<unknown>;
}

export const TARGETS: readonly FuzzTarget<unknown>[] = [
  entry(safetensors),
  entry(config),
  entry(tokenizer),
  entry(datasetTarget('jsonl')),
  entry(datasetTarget('json')),
  entry(datasetTarget('csv')),
  entry(datasetTarget('txt')),
  entry(parquet),
  entry(ggufWrite),
  // a GGUF reader, once merged: entry(ggufReaderTarget('gguf', (bytes, name) => readGguf(bytes, name))),
];

/**
 * A target for a GGUF reader `read(bytes, name)`: seeds are files the writer makes (an adapter
 * with every metadata type), mutated at the byte level; a clear refusal names the file.
 */
export function ggufReaderTarget(name: string, read: (bytes: Uint8Array, fileName: string) => Promise<unknown> | unknown): FuzzTarget<null> {
  return {
    name,
    title: 'GGUF reader',
    async setup() {
      return null;
    },
    seeds: () => {
      const { kv, tensors } = ggufArgs(ggufSpecSeed());
      return [[{ name: 'adapter.gguf', bytes: writeGguf(kv, tensors) }]];
    },
    async run(input) {
      return read(input[0].bytes, input[0].name);
    },
  };
}

export function cleanup(ctx: unknown): void {
  if (typeof ctx === 'object' && ctx !== null && 'dir' in ctx && typeof ctx.dir === 'string') rmSync(ctx.dir, { recursive: true, force: true });
}
