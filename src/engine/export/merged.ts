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

import type { ByteSource } from '../io/bytes.ts';
import { Checkpoint, readText, type ModelFiles } from '../io/model-files.ts';
import { DTYPE_BYTES, FLOAT_DTYPES, SafetensorsFile, type Dtype } from '../io/safetensors.ts';
import { parseModelConfig, type ModelSpec } from '../model/config.ts';
import type { BasePrecision } from '../model/decoder.ts';
import { ConfigError } from '../config/schema.ts';
import { linearsByModule } from '../methods/merge-host.ts';
import { formatFiles, formatOwner } from '../methods/registry.ts';
import type { ExportFile, HostEdits, TensorEdit } from '../methods/types.ts';
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
          for (const p of parts) {
            out.set(p, at);
            at += p.length;
          }
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
  /** What the adapter was, as its method says: 'lora', 'dora', 'shira', 'weights', … */
  kind: string;
  /** Tensors whose values changed (ΔW added, or replaced). */
  merged: string[];
  /** Tensors quantized and dequantized. */
  dequantized: string[];
  /** Files written. */
  files: string[];
}

/** What the adapter files are, and the edit of each base tensor they change: asked of the
 *  method whose format they are (methods/<m>/: its PEFT type or marker file). */
export async function readAdapterEdits(files: readonly ExportFile[], spec: ModelSpec, ckpt: Checkpoint): Promise<HostEdits> {
  const owner = formatOwner(files);
  if (!owner) {
    throw new ConfigError(`merge: no adapter in ${files.map((f) => f.name).join(', ') || 'no files'} (expected ${formatFiles()})`);
  }
  const f = owner.format;
  if (!f?.hostEdits) throw new ConfigError(`merge: ${f?.noMerge ?? `${owner.name} files cannot be merged into a base`}`);
  return f.hostEdits(files, { spec, ckpt });
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
  edits: Map<string, TensorEdit>;
  quant: Map<string, { out: number; in: number; layout: 'out-in' | 'in-out' }>;
}

/** Read the base and the adapter and check that they fit (nothing is written). */
export async function planMerge(base: ModelFiles, adapter: readonly ExportFile[], opts: MergeOptions = {}, baseOnly = false): Promise<MergePlan> {
  const spec = parseModelConfig(await readText(base, 'config.json'), `${base.name}/config.json`);
  const ckpt = await Checkpoint.open(base);
  // baseOnly with no adapter files: the base as it is (after the quantize round trip a quantized run saw).
  const { kind, edits } = !baseOnly || adapter.length ? await readAdapterEdits(adapter, spec, ckpt) : { kind: 'weights', edits: new Map<string, TensorEdit>() };
  const quant = quantizedTensors(spec, ckpt, opts);
  for (const [name, e] of edits) {
    if (!ckpt.has(name)) throw new ConfigError(`merge: the base checkpoint has no tensor "${name}" for the adapter`);
    const info = ckpt.info(name);
    if (!FLOAT_DTYPES.includes(info.dtype)) throw new ConfigError(`merge: base tensor "${name}" is ${info.dtype}, not a float weight`);
    if (e.linear) {
      const want = e.linear.layout === 'out-in' ? [e.linear.out, e.linear.in] : [e.linear.in, e.linear.out];
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
  // The method's own edit (methods/<m>/merge-host.ts).
  const v: ArrayLike<number> = e ? await e.apply(w) : w;
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
