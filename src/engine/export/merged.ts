// The merged model: the base checkpoint with a run's trained state folded in, as a Hugging
// Face model folder any loader (transformers, this engine, llama.cpp's converter) reads as
// a plain model: model.safetensors in the base's own tensor names, shapes and per-tensor
// dtypes (F32, F16 or BF16; new values rounded to nearest even), beside config.json and the
// tokenizer / generation files copied unchanged.
//
// Done on the host, one tensor at a time in file order (only the one being written is in
// memory, plus the adapter), in f64:
//   PEFT LoRA       W' = W + s·B·A              (s = alpha / r, rsLoRA alpha / √r; Conv1D in its (in, out) order)
//   PEFT LoRA DoRA  W' = (m / ‖W + s·B·A‖_row) ⊙ (W + s·B·A)   (row = output; biases unchanged)
//   PEFT SHiRA      W'[row, col] = W[row, col] + value          (indices in [out, in] space)
//   model.safetensors (full, MeZO, sparse MeZO)  the trained tensors replace the base's
// Tensors the adapter does not touch are copied byte for byte.
//
// A run on a quantized base (q8 / q4 / nf4, QLoRA) trained against the dequantized weights,
// not the checkpoint's: every tensor the load path quantizes (each linear weight, and the
// token embedding and an untied head unless quantizeEmbeddings is false) is quantized and
// dequantized here with src/engine/quant/block.ts exactly as loading does (a Conv1D weight
// transposed to (out, in) first), and ΔW is added to that. The merged model then computes
// what the run computed (up to the output dtype's rounding). `dequantize: false` merges
// into the original weights instead.
// Not merged: qzo's trained block scales (they are only meaningful on the quantized base).

import { bytesSource, type ByteSource } from '../io/bytes.ts';
import { Checkpoint, readText, type ModelFiles } from '../io/model-files.ts';
import { DTYPE_BYTES, FLOAT_DTYPES, SafetensorsFile, type Dtype } from '../io/safetensors.ts';
import { parseModelConfig, type ModelSpec } from '../model/config.ts';
import type { BasePrecision } from '../model/decoder.ts';
import { linearShapes, type LinearShape } from '../model/memory.ts';
import { loraDelta } from '../methods/lora/adapter.ts';
import { doraMergedWeight } from '../methods/lora/dora.ts';
import { ConfigError } from '../config/schema.ts';
import type { ExportFile } from '../methods/types.ts';
import { dequantize, quantize } from '../quant/block.ts';
import { encodeFloats } from './dtype.ts';

/** Where the merged folder goes: files written in pieces (Node: a folder; memory: tests). */
export interface OutFile {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}
export interface OutFolder {
  create(name: string): Promise<OutFile>;
}

/** An OutFolder in memory; `files` holds each closed file. */
export function memoryFolder(): OutFolder & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    async create(name) {
      const parts: Uint8Array[] = [];
      return {
        async write(b) {
          parts.push(b.slice());
        },
        async close() {
          const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
          let at = 0;
          for (const p of parts) (out.set(p, at), (at += p.length));
          files.set(name, out);
        },
      };
    },
  };
}

/** Files copied beside the weights when the base has them (config.json is required). */
export const COPIED_FILES = [
  'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'tokenizer.model', 'vocab.json', 'merges.txt', 'added_tokens.json', 'chat_template.jinja', 'chat_template.json',
];

export interface MergeOptions {
  /** How the run held the base (run.json's precision); a quantized one merges into the
   *  dequantized weights (see the header). Default f32. */
  precision?: BasePrecision;
  /** As LoadOptions.quantizeEmbeddings (default true). */
  quantizeEmbeddings?: boolean;
  /** false: add ΔW to the checkpoint's own weights even for a quantized run. */
  dequantize?: boolean;
  onProgress?: (p: { tensor: string; done: number; total: number }) => void;
}

export interface MergeSummary {
  /** What the adapter was: 'lora', 'dora', 'shira' or 'weights'. */
  kind: 'lora' | 'dora' | 'shira' | 'weights';
  /** Tensors whose values changed (ΔW added, or replaced). */
  merged: string[];
  /** Tensors quantized and dequantized. */
  dequantized: string[];
  /** Files written. */
  files: string[];
}

type Edit =
  | { kind: 'lowrank'; l: LinearShape; A: Float32Array; B: Float32Array; r: number; scale: number; m?: Float32Array }
  | { kind: 'sparse'; l: LinearShape; index: Uint32Array; values: Float32Array }
  | { kind: 'replace'; st: SafetensorsFile; name: string };

const nonEmpty = (v: unknown) => typeof v === 'object' && v !== null && Object.keys(v).length > 0;

function jsonFile(files: readonly ExportFile[], name: string): Record<string, unknown> {
  const f = files.find((x) => x.name === name)!;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(f.bytes));
  } catch (e) {
    throw new ConfigError(`${name} is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
}

function fileOf(files: readonly ExportFile[], name: string): Uint8Array {
  const f = files.find((x) => x.name === name);
  if (!f) throw new ConfigError(`merge: the adapter has no ${name} (files: ${files.map((x) => x.name).join(', ') || 'none'})`);
  return f.bytes;
}

/** The module a PEFT key adapts, as the checkpoint names it. */
function moduleOf(key: string, suffix: string): string | undefined {
  if (!key.startsWith('base_model.model.') || !key.endsWith(suffix)) return undefined;
  return key.slice('base_model.model.'.length, key.length - suffix.length);
}

/** Checkpoint weight names of the spec's linear layers (GPT-2 with or without "transformer."). */
function linearsByModule(spec: ModelSpec, ckpt: Checkpoint): Map<string, { l: LinearShape; weight: string }> {
  const prefix = spec.family === 'gpt2' && ckpt.has('transformer.wte.weight') ? 'transformer.' : '';
  const out = new Map<string, { l: LinearShape; weight: string }>();
  for (const l of linearShapes(spec, spec.family === 'gpt2' ? prefix : 'model.')) {
    const entry = { l, weight: `${l.name}.weight` };
    out.set(l.name, entry);
    if (spec.family === 'gpt2') out.set(prefix ? l.name.slice(prefix.length) : `transformer.${l.name}`, entry); // PEFT always writes transformer.
  }
  return out;
}

async function loraEdits(files: readonly ExportFile[], c: Record<string, unknown>, spec: ModelSpec, ckpt: Checkpoint): Promise<{ edits: Map<string, Edit>; dora: boolean }> {
  const alpha = Number(c.lora_alpha);
  if (!(alpha > 0)) throw new ConfigError(`adapter_config.json: lora_alpha = ${String(c.lora_alpha)} must be a positive number`);
  if (nonEmpty(c.alpha_pattern)) throw new ConfigError('merge: adapter_config.json has an alpha_pattern, which this merge does not read');
  if (c.bias !== undefined && c.bias !== 'none') throw new ConfigError(`merge: adapter_config.json has bias = ${JSON.stringify(c.bias)}; only bias "none" adapters are merged`);
  if (Array.isArray(c.modules_to_save) && c.modules_to_save.length) throw new ConfigError(`merge: adapter_config.json has modules_to_save (${c.modules_to_save.join(', ')}), which this merge does not read`);
  const rslora = c.use_rslora === true;
  const dora = c.use_dora === true;
  const st = await SafetensorsFile.open(bytesSource(fileOf(files, 'adapter_model.safetensors'), 'adapter_model.safetensors'));
  const mods = linearsByModule(spec, ckpt);
  const parts = new Map<string, { A?: string; B?: string; m?: string }>();
  for (const key of st.names) {
    const a = moduleOf(key, '.lora_A.weight');
    const b = moduleOf(key, '.lora_B.weight');
    const m = moduleOf(key, '.lora_magnitude_vector') ?? moduleOf(key, '.lora_magnitude_vector.weight');
    const mod = a ?? b ?? m;
    if (mod === undefined) throw new ConfigError(`adapter_model.safetensors: "${key}" is not a lora_A / lora_B weight${dora ? ' or a magnitude vector' : ''}`);
    if (!mods.has(mod)) throw new ConfigError(`adapter_model.safetensors: "${key}" adapts ${mod}, which ${spec.architecture} has no linear layer for`);
    if (m !== undefined && !dora) throw new ConfigError(`adapter_model.safetensors: "${key}" is a DoRA magnitude, but adapter_config.json has use_dora false`);
    const p = parts.get(mod) ?? {};
    p[a !== undefined ? 'A' : b !== undefined ? 'B' : 'm'] = key;
    parts.set(mod, p);
  }
  if (!parts.size) throw new ConfigError('adapter_model.safetensors has no lora_A / lora_B tensors');
  const edits = new Map<string, Edit>();
  for (const [mod, p] of parts) {
    const { l, weight } = mods.get(mod)!;
    if (!p.A || !p.B) throw new ConfigError(`adapter_model.safetensors: ${mod} has ${p.A ? 'lora_A but no lora_B' : 'no lora_A'}`);
    if (dora && !p.m) throw new ConfigError(`adapter_model.safetensors: ${mod} has no lora_magnitude_vector (adapter_config.json says use_dora)`);
    const r = st.info(p.A).shape[0];
    const want: [string, number[]][] = [[p.A, [r, l.in]], [p.B, [l.out, r]], ...(p.m ? [[p.m, [l.out]] as [string, number[]]] : [])];
    for (const [name, shape] of want) {
      const got = st.info(name).shape;
      if (got.join(',') !== shape.join(',')) throw new ConfigError(`adapter_model.safetensors: "${name}" has shape [${got}], expected [${shape}] for ${weight}`);
    }
    const scale = rslora ? alpha / Math.sqrt(r) : alpha / r;
    edits.set(weight, { kind: 'lowrank', l, A: await st.readF32(p.A), B: await st.readF32(p.B), r, scale, m: p.m ? await st.readF32(p.m) : undefined });
  }
  return { edits, dora };
}

async function shiraEdits(files: readonly ExportFile[], spec: ModelSpec, ckpt: Checkpoint): Promise<Map<string, Edit>> {
  const st = await SafetensorsFile.open(bytesSource(fileOf(files, 'adapter_model.safetensors'), 'adapter_model.safetensors'));
  const mods = linearsByModule(spec, ckpt);
  const seen = new Set<string>();
  const edits = new Map<string, Edit>();
  for (const key of st.names) {
    const mod = moduleOf(key, '.shira_weight') ?? moduleOf(key, '.shira_indices');
    if (mod === undefined) throw new ConfigError(`adapter_model.safetensors: "${key}" is not a shira_weight / shira_indices tensor`);
    if (!mods.has(mod)) throw new ConfigError(`adapter_model.safetensors: "${key}" adapts ${mod}, which ${spec.architecture} has no linear layer for`);
    if (seen.has(mod)) continue;
    seen.add(mod);
    const [ni, nw] = [`base_model.model.${mod}.shira_indices`, `base_model.model.${mod}.shira_weight`];
    for (const n of [ni, nw]) if (!st.tensors.has(n)) throw new ConfigError(`adapter_model.safetensors has no tensor "${n}"`);
    const { l, weight } = mods.get(mod)!;
    const sw = st.info(nw).shape;
    const k = sw[0] ?? 0;
    const si = st.info(ni).shape;
    if (sw.length !== 1 || si.join(',') !== `2,${k}`) throw new ConfigError(`adapter_model.safetensors: "${ni}" has shape [${si}], expected [2, ${k}] for ${k} values`);
    const ind = await st.readI32(ni);
    const values = await st.readF32(nw);
    const index = new Uint32Array(k);
    for (let j = 0; j < k; j++) {
      const [row, col] = [ind[j], ind[k + j]];
      if (!(row >= 0 && row < l.out && col >= 0 && col < l.in)) throw new ConfigError(`adapter_model.safetensors: "${ni}" entry ${j} = (${row}, ${col}) is outside ${weight} (${l.out}×${l.in})`);
      index[j] = l.layout === 'out-in' ? row * l.in + col : col * l.out + row;
    }
    edits.set(weight, { kind: 'sparse', l, index, values });
  }
  if (!edits.size) throw new ConfigError('adapter_model.safetensors has no shira_indices / shira_weight tensors');
  return edits;
}

async function weightEdits(files: readonly ExportFile[], ckpt: Checkpoint): Promise<Map<string, Edit>> {
  const st = await SafetensorsFile.open(bytesSource(fileOf(files, 'model.safetensors'), 'model.safetensors'));
  const edits = new Map<string, Edit>();
  for (const name of st.names) {
    const base = [name, name.startsWith('transformer.') ? name.slice(12) : `transformer.${name}`].find((n) => ckpt.has(n));
    if (!base) throw new ConfigError(`model.safetensors: "${name}" is not a tensor of the base checkpoint`);
    const want = ckpt.info(base).shape.reduce((a, d) => a * d, 1);
    const got = st.info(name).shape.reduce((a, d) => a * d, 1);
    if (want !== got) throw new ConfigError(`model.safetensors: "${name}" has ${got} values, the base's "${base}" ${want}`);
    edits.set(base, { kind: 'replace', st, name });
  }
  return edits;
}

/** What the adapter files are, and the edit of each base tensor they change. */
export async function readAdapterEdits(files: readonly ExportFile[], spec: ModelSpec, ckpt: Checkpoint): Promise<{ kind: MergeSummary['kind']; edits: Map<string, Edit> }> {
  const has = (n: string) => files.some((f) => f.name === n);
  if (has('adapter_config.json')) {
    const c = jsonFile(files, 'adapter_config.json');
    if (c.peft_type === 'LORA') {
      const { edits, dora } = await loraEdits(files, c, spec, ckpt);
      return { kind: dora ? 'dora' : 'lora', edits };
    }
    if (c.peft_type === 'SHIRA') return { kind: 'shira', edits: await shiraEdits(files, spec, ckpt) };
    throw new ConfigError(`merge: adapter_config.json has peft_type ${JSON.stringify(c.peft_type)}; webtune merges LORA (incl. DoRA) and SHIRA adapters`);
  }
  if (has('model.safetensors')) return { kind: 'weights', edits: await weightEdits(files, ckpt) };
  if (has('qzo_scales.safetensors')) {
    throw new ConfigError('merge: a qzo run trains the block scales of the quantized base and has no f32 ΔW to fold in; load the base with the same --quant and import the scales');
  }
  throw new ConfigError(`merge: no adapter in ${files.map((f) => f.name).join(', ') || 'no files'} (expected adapter_config.json + adapter_model.safetensors, or model.safetensors)`);
}

/** Checkpoint names the load path quantizes at `precision`, with their (out, in) and storage layout. */
function quantizedTensors(spec: ModelSpec, ckpt: Checkpoint, opts: MergeOptions): Map<string, { out: number; in: number; layout: 'out-in' | 'in-out' }> {
  const out = new Map<string, { out: number; in: number; layout: 'out-in' | 'in-out' }>();
  if ((opts.precision ?? 'f32') === 'f32' || opts.dequantize === false) return out;
  const { hidden: C, vocab: V } = spec;
  for (const { l, weight } of linearsByModule(spec, ckpt).values()) out.set(weight, { out: l.out, in: l.in, layout: l.layout });
  if (opts.quantizeEmbeddings !== false) {
    if (spec.family === 'gpt2') out.set(ckpt.has('transformer.wte.weight') ? 'transformer.wte.weight' : 'wte.weight', { out: V, in: C, layout: 'out-in' });
    else {
      out.set('model.embed_tokens.weight', { out: V, in: C, layout: 'out-in' });
      // The load path reads lm_head only when the config does not tie it (decoder.ts).
      if (!spec.tieEmbeddings && ckpt.has('lm_head.weight')) out.set('lm_head.weight', { out: V, in: C, layout: 'out-in' });
    }
  }
  return out;
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** The safetensors header (8-byte length + JSON padded with spaces to a multiple of 8). */
function safetensorsHeader(entries: { name: string; dtype: Dtype; shape: number[]; bytes: number }[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes] };
    offset += e.bytes;
  }
  const json = JSON.stringify(header);
  const len = new TextEncoder().encode(json).length;
  const hb = new TextEncoder().encode(json + ' '.repeat((8 - (len % 8)) % 8));
  const out = new Uint8Array(8 + hb.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  return out;
}

async function copyFile(src: ByteSource, out: OutFolder, name: string): Promise<void> {
  const f = await out.create(name);
  const CHUNK = 16 << 20;
  for (let at = 0; at < src.size; at += CHUNK) await f.write(await src.read(at, Math.min(CHUNK, src.size - at)));
  await f.close();
}

/** What a merge reads: the base's spec and checkpoint, and the edit of each tensor. */
export interface MergePlan {
  spec: ModelSpec;
  ckpt: Checkpoint;
  kind: MergeSummary['kind'];
  edits: Map<string, Edit>;
  quant: Map<string, { out: number; in: number; layout: 'out-in' | 'in-out' }>;
}

/** Read the base and the adapter and check that they fit (nothing is written). */
export async function planMerge(base: ModelFiles, adapter: readonly ExportFile[], opts: MergeOptions = {}, baseOnly = false): Promise<MergePlan> {
  const spec = parseModelConfig(await readText(base, 'config.json'), `${base.name}/config.json`);
  const ckpt = await Checkpoint.open(base);
  // baseOnly with no adapter files: the base as it is (after the quantize round trip a quantized run saw).
  const { kind, edits } = !baseOnly || adapter.length ? await readAdapterEdits(adapter, spec, ckpt) : { kind: 'weights' as const, edits: new Map<string, Edit>() };
  const quant = quantizedTensors(spec, ckpt, opts);
  for (const [name, e] of edits) {
    if (!ckpt.has(name)) throw new ConfigError(`merge: the base checkpoint has no tensor "${name}" for the adapter`);
    const info = ckpt.info(name);
    if (!FLOAT_DTYPES.includes(info.dtype)) throw new ConfigError(`merge: base tensor "${name}" is ${info.dtype}, not a float weight`);
    if (e.kind !== 'replace') {
      const want = e.l.layout === 'out-in' ? [e.l.out, e.l.in] : [e.l.in, e.l.out];
      if (info.shape.join(',') !== want.join(',')) throw new ConfigError(`merge: base tensor "${name}" has shape [${info.shape}], the config implies [${want}]`);
    }
  }
  return { spec, ckpt, kind, edits, quant };
}

/**
 * The merged values of one checkpoint tensor (f64 or f32, in the checkpoint's own shape
 * and order), or undefined when the merge leaves it as it is.
 */
export async function mergedValues(plan: MergePlan, name: string, opts: MergeOptions = {}): Promise<{ values: ArrayLike<number>; merged: boolean; dequantized: boolean } | undefined> {
  const e = plan.edits.get(name);
  const q = FLOAT_DTYPES.includes(plan.ckpt.info(name).dtype) ? plan.quant.get(name) : undefined;
  if (!e && !q) return undefined;
  let w: Float32Array = await plan.ckpt.readF32(name);
  if (q) {
    const rows = q.layout === 'out-in' ? w : transpose(w, q.in, q.out);
    const back = dequantize(quantize(rows, q.out, q.in, opts.precision as Exclude<BasePrecision, 'f32'>));
    w = q.layout === 'out-in' ? back : transpose(back, q.out, q.in);
  }
  let v: ArrayLike<number> = w;
  if (e?.kind === 'lowrank') {
    const d = loraDelta(e.A, e.B, e.r, e.l.out, e.l.in, e.scale, e.l.layout);
    if (e.m) v = doraMergedWeight(w, d, e.m, e.l.out, e.l.in, e.l.layout);
    else {
      const s = Float64Array.from(w);
      for (let i = 0; i < s.length; i++) s[i] += d[i];
      v = s;
    }
  } else if (e?.kind === 'sparse') {
    const s = Float64Array.from(w);
    for (let j = 0; j < e.index.length; j++) s[e.index[j]] += e.values[j];
    v = s;
  } else if (e?.kind === 'replace') v = await e.st.readF32(e.name);
  return { values: v, merged: !!e, dequantized: !!q };
}

/**
 * Write the merged model of `base` + `adapter` (a run's export files) into `out`:
 * model.safetensors and the files of COPIED_FILES the base has.
 */
export async function writeMergedModel(base: ModelFiles, adapter: readonly ExportFile[], out: OutFolder, opts: MergeOptions = {}): Promise<MergeSummary> {
  const plan = await planMerge(base, adapter, opts);
  const { ckpt, kind } = plan;
  const names = ckpt.names;
  const entries = names.map((name) => {
    const i = ckpt.info(name);
    return { name, dtype: i.dtype, shape: i.shape, bytes: i.end - i.begin };
  });
  const raw = await rawFiles(base, ckpt);
  const merged: string[] = [];
  const dequantized: string[] = [];
  const file = await out.create('model.safetensors');
  await file.write(safetensorsHeader(entries, { format: 'pt' }));
  for (const [done, { name, dtype, bytes }] of entries.entries()) {
    const m = await mergedValues(plan, name, opts);
    if (!m) {
      await file.write(await raw.get(name)!.readRaw(name));
      opts.onProgress?.({ tensor: name, done: done + 1, total: entries.length });
      continue;
    }
    if (m.merged) merged.push(name);
    if (m.dequantized) dequantized.push(name);
    const enc = encodeFloats(m.values, dtype);
    if (enc.length !== bytes || bytes !== m.values.length * DTYPE_BYTES[dtype]) throw new Error(`merge: "${name}" encodes to ${enc.length} bytes, the header says ${bytes}`);
    await file.write(enc);
    opts.onProgress?.({ tensor: name, done: done + 1, total: entries.length });
  }
  await file.close();
  const written = ['model.safetensors'];
  for (const f of COPIED_FILES) {
    if (!(await base.has(f))) continue;
    await copyFile(await base.open(f), out, f);
    written.push(f);
  }
  return { kind, merged, dequantized, files: written };
}

/** Each checkpoint tensor's SafetensorsFile, for byte-exact copies (Checkpoint has already
 *  validated the layout, single file or sharded index). */
async function rawFiles(files: ModelFiles, ckpt: Checkpoint): Promise<Map<string, SafetensorsFile>> {
  const where = new Map<string, SafetensorsFile>();
  const shards = (await files.has('model.safetensors'))
    ? ['model.safetensors']
    : [...new Set(Object.values((JSON.parse(await readText(files, 'model.safetensors.index.json')) as { weight_map: Record<string, string> }).weight_map))];
  for (const shard of shards) {
    const f = await SafetensorsFile.open(await files.open(shard));
    for (const name of f.tensors.keys()) if (ckpt.has(name) && !where.has(name)) where.set(name, f);
  }
  return where;
}
