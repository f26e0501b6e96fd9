// Any adapter to a PEFT LoRA of a chosen rank k: a SHiRA export (sparse ΔW: shira_weight at
// shira_indices, [out, in] space) or a full fine-tune (the `full` method's model.safetensors
// minus the base checkpoint's weights: dense ΔW per linear layer). Each module's ΔW is
// truncated to rank k by randomized SVD (svd.ts: seeded Gaussian test matrix, power
// iterations, QR, a small Jacobi SVD) through products ΔW·X and ΔWᵀ·Y only, so no dense SVD
// of a big matrix is ever taken (a sparse ΔW is never even formed). The factors are split
// evenly, B = U·√(σ/s), A = √(σ/s)·Vᵀ with s = alpha/k (alpha/√k with rsLoRA; alpha defaults
// to k, s = 1). Reported per module: energy kept Σσ_i²/‖ΔW‖_F² and the relative Frobenius
// error ‖ΔW − s·B·A‖_F/‖ΔW‖_F = √(1 − energy), exact for the factors written (the rank-k
// result is an orthogonal projection of ΔW; see randomizedSvd).
// What LoRA cannot carry (a full run's embeddings, norms, biases, positions) is listed in
// `dropped` with its relative change, not silently lost.

import { bytesSource } from '../io/bytes.ts';
import type { Checkpoint } from '../io/model-files.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import type { ModelSpec } from '../model/config.ts';
import { linearShapes, type LinearShape } from '../model/memory.ts';
import { ConfigError } from '../config/schema.ts';
import type { ExportFile } from '../methods/types.ts';
import { factorsFromSvd, peftScale, readAdapterConfig, writePeftLora, type LoraModule } from './squeeze.ts';
import { denseOperator, randomizedSvd, sparseOperator, type LinearOperator } from './svd.ts';

export interface ToLoraOptions {
  /** Rank k of every module (≤ min(out, in) of each). */
  rank: number;
  /** lora_alpha (default: k, so the scale is 1). */
  alpha?: number;
  rslora?: boolean;
  /** Module kinds to convert (q_proj, c_attn, …); default: every kind with a non-zero ΔW. */
  targets?: readonly string[];
  /** Randomized SVD: extra test vectors (default 10), power iterations (default 2), seed (0). */
  oversample?: number;
  powerIters?: number;
  seed?: number;
  /** base_model_name_or_path of the result. */
  baseModel?: string;
}

export interface ToLoraModuleReport {
  module: string;
  out: number;
  in: number;
  rank: number;
  /** Σ_{i<k} σ_i² / ‖ΔW‖_F² (1 when ΔW = 0). */
  energy: number;
  /** ‖ΔW − ΔW_k‖_F / ‖ΔW‖_F. */
  relError: number;
  norm: number;
  /** The k singular values kept, descending. */
  singularValues: number[];
}

export interface DroppedTensor {
  name: string;
  /** ‖Δ‖ and ‖Δ‖ / ‖W_base‖. */
  norm: number;
  relChange: number;
}

export interface ToLoraResult {
  files: ExportFile[];
  report: ToLoraModuleReport[];
  /** Kept / total energy over all converted modules. */
  energy: number;
  dropped: DroppedTensor[];
}

const gpt2 = (spec: ModelSpec) => spec.family === 'gpt2';
const peftKey = (spec: ModelSpec, l: LinearShape) => `base_model.model.${gpt2(spec) ? 'transformer.' : ''}${l.name}`;

/** The operator of Mᵀ. */
function transposed(a: LinearOperator): LinearOperator {
  return { rows: a.cols, cols: a.rows, frob2: a.frob2, mul: (x, k) => a.mulT(x, k), mulT: (y, k) => a.mul(y, k) };
}

function convert(spec: ModelSpec, deltas: Map<string, LinearOperator>, kinds: readonly string[], o: ToLoraOptions): Omit<ToLoraResult, 'dropped'> {
  const k = o.rank;
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`--rank should be a positive integer, got ${k}`);
  const alpha = o.alpha ?? k;
  if (!(alpha > 0)) throw new ConfigError(`--alpha should be a positive number, got ${alpha}`);
  const rslora = o.rslora === true;
  const scale = peftScale(alpha, k, rslora);
  const layers = linearShapes(spec).filter((l) => kinds.includes(l.kind));
  const small = layers.find((l) => k > Math.min(l.out, l.in));
  if (small) throw new ConfigError(`--rank ${k} is larger than ${small.name} (${small.out}×${small.in}) allows (at most ${Math.min(small.out, small.in)})`);
  const modules: LoraModule[] = [];
  const report: ToLoraModuleReport[] = [];
  let kept = 0;
  let total = 0;
  for (const [i, l] of layers.entries()) {
    const key = peftKey(spec, l);
    const op = deltas.get(l.name);
    if (!op || op.frob2 === 0) {
      // A module of a converted kind that did not change: zeros (PEFT and webtune's import
      // want every module of a target kind).
      modules.push({ key, out: l.out, in: l.in, r: k, a: new Float32Array(k * l.in), b: new Float32Array(l.out * k) });
      report.push({ module: key, out: l.out, in: l.in, rank: k, energy: 1, relError: 0, norm: 0, singularValues: new Array<number>(k).fill(0) });
      continue;
    }
    const svd = randomizedSvd(op, k, { oversample: o.oversample, powerIters: o.powerIters, seed: o.seed ?? 0, stream: i });
    const top = Array.from(svd.s).reduce((x, y) => x + y * y, 0);
    const energy = Math.min(1, top / op.frob2);
    kept += Math.min(top, op.frob2);
    total += op.frob2;
    report.push({ module: key, out: l.out, in: l.in, rank: k, energy, relError: Math.sqrt(Math.max(0, 1 - energy)), norm: Math.sqrt(op.frob2), singularValues: Array.from(svd.s) });
    const { a, b } = factorsFromSvd(svd.u, k, svd.s, svd.v, k, l.out, l.in, k, scale);
    modules.push({ key, out: l.out, in: l.in, r: k, a, b });
  }
  const config = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: o.baseModel ?? '',
    r: k, lora_alpha: alpha, lora_dropout: 0, target_modules: [...kinds],
    use_rslora: rslora, use_dora: false, fan_in_fan_out: gpt2(spec), bias: 'none',
    init_lora_weights: true, inference_mode: true, modules_to_save: null, layers_to_transform: null, rank_pattern: {}, alpha_pattern: {},
  };
  return { files: writePeftLora(modules, config), report, energy: total > 0 ? kept / total : 1 };
}

function chooseKinds(spec: ModelSpec, changed: Iterable<string>, targets: readonly string[] | undefined): string[] {
  const all = [...new Set(linearShapes(spec).map((l) => l.kind))];
  if (targets && targets.length && !targets.includes('all-linear')) {
    const bad = targets.filter((t) => !all.includes(t));
    if (bad.length) throw new ConfigError(`--targets: ${spec.architecture} has no module ${bad.join(', ')} (it has ${all.join(', ')})`);
    return all.filter((t) => targets.includes(t));
  }
  if (targets?.includes('all-linear')) return all;
  const kinds = new Set([...changed].map((n) => n.slice(n.lastIndexOf('.') + 1)));
  const out = all.filter((t) => kinds.has(t));
  if (!out.length) throw new ConfigError('the adapter changes no linear layer: nothing to convert to LoRA');
  return out;
}

/** A PEFT SHiRA export (peft_type SHIRA) as a rank-k PEFT LoRA. `spec` gives each module's shape. */
export async function shiraToLora(files: readonly ExportFile[], spec: ModelSpec, o: ToLoraOptions): Promise<ToLoraResult> {
  const config = readAdapterConfig(files);
  if (config.peft_type !== 'SHIRA') throw new ConfigError(`adapter_config.json: peft_type is ${JSON.stringify(config.peft_type)}, expected "SHIRA"`);
  const f = files.find((x) => x.name === 'adapter_model.safetensors' || x.name.endsWith('/adapter_model.safetensors'));
  if (!f) throw new ConfigError('PEFT adapter: no adapter_model.safetensors');
  const st = await SafetensorsFile.open(bytesSource(f.bytes, 'adapter_model.safetensors'));
  const deltas = new Map<string, LinearOperator>();
  const known = new Set<string>();
  for (const l of linearShapes(spec)) {
    const p = peftKey(spec, l);
    const [ni, nw] = [`${p}.shira_indices`, `${p}.shira_weight`];
    known.add(ni).add(nw);
    if (!st.tensors.has(ni) && !st.tensors.has(nw)) continue;
    for (const n of [ni, nw]) if (!st.tensors.has(n)) throw new ConfigError(`adapter_model.safetensors has no tensor "${n}"`);
    const val = await st.readF32(nw);
    const ind = await st.readI32(ni);
    const K = val.length;
    if (st.info(ni).shape.join(',') !== `2,${K}`) throw new ConfigError(`adapter_model.safetensors: "${ni}" has shape [${st.info(ni).shape}], expected [2, ${K}]`);
    const rows = ind.subarray(0, K);
    const cols = ind.subarray(K);
    for (let j = 0; j < K; j++) {
      if (!(rows[j] >= 0 && rows[j] < l.out && cols[j] >= 0 && cols[j] < l.in)) throw new ConfigError(`adapter_model.safetensors: "${ni}" entry ${j} = (${rows[j]}, ${cols[j]}) is outside ${l.name} (${l.out}×${l.in})`);
    }
    deltas.set(l.name, sparseOperator(rows, cols, val, l.out, l.in));
  }
  const stray = st.names.filter((n) => !known.has(n));
  if (stray.length) throw new ConfigError(`adapter_model.safetensors: ${stray.slice(0, 3).join(', ')}${stray.length > 3 ? ', …' : ''} match no linear layer of ${spec.architecture}`);
  const changed = [...deltas].filter(([, d]) => d.frob2 > 0).map(([n]) => n);
  const kinds = chooseKinds(spec, changed, o.targets);
  const baseModel = o.baseModel ?? (typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : '');
  return { ...convert(spec, deltas, kinds, { ...o, baseModel }), dropped: [] };
}

/**
 * A full fine-tune as a rank-k PEFT LoRA: ΔW = W_finetuned − W_base per linear layer (GPT-2's
 * Conv1D (in, out) weights read as [out, in]). `finetuned` holds the method's model.safetensors;
 * `base` is the base checkpoint (io/model-files.ts Checkpoint: one file or shards, F32/F16/BF16).
 */
export async function fullToLora(finetuned: readonly ExportFile[], base: Checkpoint, spec: ModelSpec, o: ToLoraOptions): Promise<ToLoraResult> {
  const f = finetuned.find((x) => x.name === 'model.safetensors' || x.name.endsWith('/model.safetensors'));
  if (!f) throw new ConfigError(`the full fine-tune export has no model.safetensors (got ${finetuned.map((x) => x.name).join(', ') || 'no files'})`);
  const st = await SafetensorsFile.open(bytesSource(f.bytes, 'model.safetensors'));
  const linearNames = new Map<string, LinearShape>();
  for (const l of linearShapes(spec)) for (const p of ['', 'transformer.']) linearNames.set(`${p}${l.name}.weight`, l);
  const deltas = new Map<string, LinearOperator>();
  const baseNorm2 = new Map<string, number>();
  const dropped: DroppedTensor[] = [];
  for (const name of st.names) {
    if (!base.has(name)) throw new ConfigError(`model.safetensors has "${name}", which the base checkpoint lacks (is it the same base?)`);
    const w = await st.readF32(name);
    const w0 = await base.readF32(name);
    if (w.length !== w0.length) throw new ConfigError(`"${name}": ${w.length} values in model.safetensors, ${w0.length} in the base`);
    const d = new Float32Array(w.length);
    let n2 = 0;
    let b2 = 0;
    for (let i = 0; i < w.length; i++) {
      d[i] = w[i] - w0[i];
      n2 += d[i] * d[i];
      b2 += w0[i] * w0[i];
    }
    const l = linearNames.get(name);
    if (!l) {
      if (n2 > 0) dropped.push({ name, norm: Math.sqrt(n2), relChange: b2 > 0 ? Math.sqrt(n2 / b2) : Infinity });
      continue;
    }
    baseNorm2.set(l.name, b2);
    deltas.set(l.name, l.layout === 'out-in' ? denseOperator(d, l.out, l.in) : transposed(denseOperator(d, l.in, l.out)));
  }
  const changed = [...deltas].filter(([, d]) => d.frob2 > 0).map(([n]) => n);
  const kinds = chooseKinds(spec, changed, o.targets);
  // Linear layers of kinds not converted are dropped too.
  for (const [n, d] of deltas) {
    if (!(d.frob2 > 0) || kinds.includes(n.slice(n.lastIndexOf('.') + 1))) continue;
    const b2 = baseNorm2.get(n) ?? 0;
    dropped.push({ name: `${n}.weight`, norm: Math.sqrt(d.frob2), relChange: b2 > 0 ? Math.sqrt(d.frob2 / b2) : Infinity });
  }
  return { ...convert(spec, deltas, kinds, o), dropped };
}
