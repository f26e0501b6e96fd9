// LoRA-Squeeze: a PEFT LoRA adapter compressed to a lower rank r' after training, by the SVD
// of each module's ΔW = s·B·A, without ever forming ΔW (out × in):
//   B = Q_B·R_B (QR of B, (out, r)),  Aᵀ = Q_A·R_A (QR of Aᵀ, (in, r)),
//   ΔW = Q_B·(s·R_B·R_Aᵀ)·Q_Aᵀ,  and the small core C = s·R_B·R_Aᵀ (r, r) = U_c·Σ·V_cᵀ
//   (one-sided Jacobi in f64), so ΔW = (Q_B·U_c)·Σ·(Q_A·V_c)ᵀ is ΔW's exact SVD.
// The top r' triplets give the best rank-r' approximation (Eckart–Young), split evenly:
//   B' = Q_B·U_c[:, :r']·diag(√(σ/s')),  A' = diag(√(σ/s'))·(Q_A·V_c[:, :r'])ᵀ,
// so that s'·B'·A' = U_{r'}·Σ_{r'}·V_{r'}ᵀ with the new adapter's own scale s' = alpha'/r'
// (alpha'/√r' with rsLoRA). alpha' defaults to the adapter's alpha (the ratio is folded into
// B' and A'; a training run continued from the result keeps its lora_alpha); pass `alpha` to
// choose another (alpha = r' makes s' = 1). Energy kept per module: Σ_{i<r'} σ_i² / Σ_i σ_i²,
// which is 1 − (relative Frobenius error)². A DoRA adapter keeps its magnitude vector as is
// (exact when r' = r; otherwise the row norms ‖W + ΔW'‖ are those of the approximation).
// Cost per module: O((out + in)·r² + r³), nothing of size out × in.

import { bytesSource } from '../io/bytes.ts';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { adapterConfig, exportFile } from '../methods/peft-files.ts';
import { ConfigError } from '../config/schema.ts';
import type { ExportFile } from '../methods/types.ts';
import { jacobiSvd, matmul, qr, transpose } from './svd.ts';

/** One module of a PEFT LoRA adapter, by its key prefix `base_model.model.<path>`. */
export interface LoraModule {
  key: string;
  out: number;
  in: number;
  r: number;
  /** (r, in) */
  a: Float32Array;
  /** (out, r) */
  b: Float32Array;
  /** DoRA magnitude (out), when the adapter has one. */
  magnitude?: Float32Array;
}

export interface PeftLora {
  /** adapter_config.json as read. */
  config: Record<string, unknown>;
  modules: LoraModule[];
  alpha: number;
  rslora: boolean;
}

export const peftScale = (alpha: number, r: number, rslora: boolean) => (rslora ? alpha / Math.sqrt(r) : alpha / r);

const file = (files: readonly ExportFile[], n: string) => exportFile(files, n);

/** adapter_config.json of an export as an object. */
export const readAdapterConfig = (files: readonly ExportFile[]) => adapterConfig(files);

/** A PEFT LoRA export (adapter_model.safetensors + adapter_config.json) read without a model.
 *  Each module's rank comes from its tensors' shapes; the scale uses the config's r and
 *  lora_alpha (rank_pattern / alpha_pattern, which webtune never writes, are refused). */
export async function readPeftLora(files: readonly ExportFile[]): Promise<PeftLora> {
  const config = readAdapterConfig(files);
  if (config.peft_type !== 'LORA') throw new ConfigError(`adapter_config.json: peft_type is ${JSON.stringify(config.peft_type)}, expected "LORA"`);
  const r = Number(config.r);
  const alpha = Number(config.lora_alpha);
  if (!Number.isInteger(r) || r < 1 || !(alpha > 0)) throw new ConfigError(`adapter_config.json: r = ${String(config.r)} and lora_alpha = ${String(config.lora_alpha)} must be a positive integer and a positive number`);
  for (const k of ['rank_pattern', 'alpha_pattern']) {
    const p = config[k];
    if (p && typeof p === 'object' && Object.keys(p).length) throw new ConfigError(`adapter_config.json: a non-empty ${k} is not supported here`);
  }
  const st = await SafetensorsFile.open(bytesSource(file(files, 'adapter_model.safetensors'), 'adapter_model.safetensors'));
  const modules: LoraModule[] = [];
  for (const name of st.names) {
    const m = /^(.*)\.lora_A(?:\.default)?\.weight$/.exec(name);
    if (!m) continue;
    const key = m[1];
    const nb = [`${key}.lora_B.weight`, `${key}.lora_B.default.weight`].find((n) => st.tensors.has(n));
    if (!nb) throw new ConfigError(`adapter_model.safetensors has ${name} but no "${key}.lora_B.weight"`);
    const [ra, inp] = st.info(name).shape;
    const [out, rb] = st.info(nb).shape;
    if (st.info(name).shape.length !== 2 || st.info(nb).shape.length !== 2 || ra !== rb) {
      throw new ConfigError(`adapter_model.safetensors: "${name}" [${st.info(name).shape}] and "${nb}" [${st.info(nb).shape}] are not (r, in) and (out, r)`);
    }
    const mod: LoraModule = { key, out, in: inp, r: ra, a: await st.readF32(name), b: await st.readF32(nb) };
    const mag = [`${key}.lora_magnitude_vector`, `${key}.lora_magnitude_vector.weight`].find((n) => st.tensors.has(n));
    if (mag) mod.magnitude = await st.readF32(mag);
    if (config.use_dora === true && !mod.magnitude) throw new ConfigError(`adapter_model.safetensors: use_dora but no "${key}.lora_magnitude_vector"`);
    modules.push(mod);
  }
  if (!modules.length) throw new ConfigError('adapter_model.safetensors has no lora_A / lora_B tensors');
  return { config, modules, alpha, rslora: config.use_rslora === true };
}

/** The files of a PEFT LoRA adapter: `config` is written as given (r, lora_alpha included). */
export function writePeftLora(modules: readonly LoraModule[], config: Record<string, unknown>): ExportFile[] {
  const tensors: TensorToWrite[] = [];
  for (const m of modules) {
    tensors.push({ name: `${m.key}.lora_A.weight`, dtype: 'F32', shape: [m.r, m.in], data: m.a });
    tensors.push({ name: `${m.key}.lora_B.weight`, dtype: 'F32', shape: [m.out, m.r], data: m.b });
    if (m.magnitude) tensors.push({ name: `${m.key}.lora_magnitude_vector`, dtype: 'F32', shape: [m.out], data: m.magnitude });
  }
  return [
    { name: 'adapter_model.safetensors', bytes: writeSafetensors(tensors, { format: 'pt' }) },
    { name: 'adapter_config.json', bytes: new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n') },
  ];
}

/** A, B of a new rank-k adapter with scale s' from ΔW ≈ U·diag(σ)·Vᵀ: U (out, ·) and V
 *  (in, ·) with their first k columns used, B = U·√(σ/s'), A = √(σ/s')·Vᵀ. */
export function factorsFromSvd(u: Float64Array, uCols: number, sig: ArrayLike<number>, v: Float64Array, vCols: number, out: number, inp: number, k: number, scale: number): { a: Float32Array; b: Float32Array } {
  const a = new Float32Array(k * inp);
  const b = new Float32Array(out * k);
  for (let j = 0; j < k; j++) {
    const f = Math.sqrt(Math.max(0, sig[j]) / scale);
    for (let o = 0; o < out; o++) b[o * k + j] = u[o * uCols + j] * f;
    for (let i = 0; i < inp; i++) a[j * inp + i] = v[i * vCols + j] * f;
  }
  return { a, b };
}

export interface ModuleReport {
  /** The module's PEFT key prefix (`base_model.model.<path>`). */
  module: string;
  out: number;
  in: number;
  /** Rank before and after. */
  rank: number;
  newRank: number;
  /** Σ_{i<r'} σ_i² / Σ σ_i² (1 when ΔW = 0). */
  energy: number;
  /** ‖ΔW − ΔW'‖_F / ‖ΔW‖_F = √(1 − energy). */
  relError: number;
  /** ‖ΔW‖_F. */
  norm: number;
  /** Every singular value of ΔW (there are at most r), descending. */
  singularValues: number[];
}

export interface SqueezeOptions {
  /** The new rank r' (1 ≤ r' ≤ each module's rank). */
  rank: number;
  /** lora_alpha of the result (default: the input's). */
  alpha?: number;
}

export interface SqueezeResult {
  files: ExportFile[];
  report: ModuleReport[];
  /** Σ over modules of kept / total energy (a single figure for the whole adapter). */
  energy: number;
  alpha: number;
}

/** ΔW = s·B·A of one module as its exact SVD (U (out, r), σ (r), V (in, r)), via QR + the r×r core. */
export function loraSvd(m: LoraModule, scale: number): { u: Float64Array; s: Float64Array; v: Float64Array } {
  const { r, out, in: inp } = m;
  if (out < r || inp < r) throw new ConfigError(`${m.key}: rank ${r} is larger than the module (${out}×${inp})`);
  const qb = qr(Float64Array.from(m.b), out, r); // B = Q_B R_B
  const qa = qr(transpose(m.a, r, inp), inp, r); // Aᵀ = Q_A R_A
  const core = matmul(qb.r, transpose(qa.r, r, r), r, r, r); // R_B R_Aᵀ
  for (let i = 0; i < core.length; i++) core[i] *= scale;
  const c = jacobiSvd(core, r, r);
  return { u: matmul(qb.q, c.u, out, r, r), s: c.s, v: matmul(qa.q, c.v, inp, r, r) };
}

/** Squeeze every module of a PEFT LoRA export to rank `opts.rank` (see the header). */
export async function squeezeLora(files: readonly ExportFile[], opts: SqueezeOptions): Promise<SqueezeResult> {
  const peft = await readPeftLora(files);
  const k = opts.rank;
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`--rank should be a positive integer, got ${k}`);
  const tooSmall = peft.modules.find((m) => m.r < k);
  if (tooSmall) throw new ConfigError(`--rank ${k} is larger than the adapter's rank ${tooSmall.r} (${tooSmall.key}); squeezing only lowers the rank`);
  const alpha = opts.alpha ?? peft.alpha;
  if (!(alpha > 0)) throw new ConfigError(`--alpha should be a positive number, got ${alpha}`);
  const s = peftScale(peft.alpha, Number(peft.config.r), peft.rslora);
  const s2 = peftScale(alpha, k, peft.rslora);
  const report: ModuleReport[] = [];
  const modules: LoraModule[] = [];
  let kept = 0;
  let total = 0;
  for (const m of peft.modules) {
    const svd = loraSvd(m, s);
    const sig = Array.from(svd.s);
    const all = sig.reduce((x, y) => x + y * y, 0);
    const top = sig.slice(0, k).reduce((x, y) => x + y * y, 0);
    kept += top;
    total += all;
    const energy = all > 0 ? top / all : 1;
    report.push({ module: m.key, out: m.out, in: m.in, rank: m.r, newRank: k, energy, relError: Math.sqrt(Math.max(0, 1 - energy)), norm: Math.sqrt(all), singularValues: sig });
    const { a, b } = factorsFromSvd(svd.u, m.r, svd.s, svd.v, m.r, m.out, m.in, k, s2);
    modules.push({ key: m.key, out: m.out, in: m.in, r: k, a, b, magnitude: m.magnitude });
  }
  const config = { ...peft.config, r: k, lora_alpha: alpha, rank_pattern: {}, alpha_pattern: {} };
  return { files: writePeftLora(modules, config), report, energy: total > 0 ? kept / total : 1, alpha };
}
