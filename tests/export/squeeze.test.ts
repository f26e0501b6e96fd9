// LoRA-Squeeze (src/engine/export/squeeze.ts): exact at r' = r, singular values and energy
// against an independent eigen-solver on the dense ΔWᵀΔW, rank-1 ΔW exact at r' = 1, and the
// squeezed adapter imported by the lora method on a tiny model gives the original logits.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { readPeftLora, squeezeLora, writePeftLora, type LoraModule } from '../../src/engine/export/squeeze.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { ConfigError, parseConfig } from '../../src/engine/config/schema.ts';
import type { ExportFile } from '../../src/engine/methods/types.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { loadModel, type CausalLM } from '../../src/engine/model/load.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { expectClose, randn, rng, testGpu } from '../helpers/gpu.ts';
import { LLAMA, tinyModel } from '../helpers/tiny-model.ts';

const GPT2_DIR = new URL('../fixtures/models/gpt2', import.meta.url).pathname;

/** ΔW = s·B·A (out, in) in f64. */
function dense(m: LoraModule, s: number): Float64Array {
  const d = new Float64Array(m.out * m.in);
  for (let o = 0; o < m.out; o++) for (let k = 0; k < m.r; k++) {
    const b = s * m.b[o * m.r + k];
    for (let i = 0; i < m.in; i++) d[o * m.in + i] += b * m.a[k * m.in + i];
  }
  return d;
}

const frob = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((a, v) => a + v * v, 0));
const diff = (x: ArrayLike<number>, y: ArrayLike<number>) => frob(Array.from(x, (v, i) => v - y[i]));

/** Eigenvalues of a symmetric (n, n) matrix by the classic two-sided Jacobi method, descending
 *  (an independent check: no QR, no one-sided rotations). */
function symEig(g: Float64Array, n: number): number[] {
  const a = Float64Array.from(g);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-26) break;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) {
      const apq = a[p * n + q];
      if (Math.abs(apq) < 1e-300) continue;
      const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < n; k++) {
        const akp = a[k * n + p];
        const akq = a[k * n + q];
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
      }
      for (let k = 0; k < n; k++) {
        const apk = a[p * n + k];
        const aqk = a[q * n + k];
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
      }
    }
  }
  return Array.from({ length: n }, (_, i) => a[i * n + i]).sort((x, y) => y - x);
}

/** (in, in) ΔWᵀΔW. */
function gram(d: Float64Array, out: number, inp: number): Float64Array {
  const g = new Float64Array(inp * inp);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) {
    const x = d[o * inp + i];
    if (x) for (let j = 0; j < inp; j++) g[i * inp + j] += x * d[o * inp + j];
  }
  return g;
}

function module(key: string, out: number, inp: number, r: number, seed: number): LoraModule {
  return { key, out, in: inp, r, a: randn(r * inp, seed, -1, 1), b: randn(out * r, seed + 1, -1, 1) };
}

function peftFiles(mods: LoraModule[], r: number, alpha: number, extra: Record<string, unknown> = {}): ExportFile[] {
  return writePeftLora(mods, { peft_type: 'LORA', task_type: 'CAUSAL_LM', r, lora_alpha: alpha, target_modules: ['q_proj'], use_rslora: false, use_dora: false, fan_in_fan_out: false, bias: 'none', ...extra });
}

describe('LoRA-Squeeze', () => {
  it("r' = r reproduces every ΔW to 1e-5 (relative), plain and rsLoRA, alpha kept or chosen", async () => {
    const mods = [module('base_model.model.x.q_proj', 20, 30, 6, 1), module('base_model.model.y.q_proj', 12, 9, 6, 5)];
    for (const [rslora, alpha] of [[false, undefined], [true, undefined], [false, 6], [true, 2.5]] as const) {
      const files = peftFiles(mods, 6, 12, { use_rslora: rslora });
      const { files: out, report, energy, alpha: a2 } = await squeezeLora(files, { rank: 6, alpha });
      expect(a2).toBe(alpha ?? 12);
      const back = await readPeftLora(out);
      expect(back.config.r).toBe(6);
      expect(back.config.lora_alpha).toBe(a2);
      const s = rslora ? 12 / Math.sqrt(6) : 2;
      const s2 = rslora ? a2 / Math.sqrt(6) : a2 / 6;
      for (const [i, m] of mods.entries()) {
        const want = dense(m, s);
        const got = dense(back.modules[i], s2);
        expect(diff(got, want) / frob(want), `${m.key} rslora=${rslora} alpha=${alpha}`).toBeLessThan(1e-5);
        expect(report[i].energy).toBeCloseTo(1, 12);
        expect(report[i].newRank).toBe(6);
      }
      expect(energy).toBeCloseTo(1, 12);
    }
  });

  it('singular values and energy kept match an independent eigen-solver of the dense ΔWᵀΔW', async () => {
    const m = module('base_model.model.layers.0.q_proj', 17, 11, 8, 9);
    const files = peftFiles([m], 8, 16);
    const d = dense(m, 2);
    const eig = symEig(gram(d, 17, 11), 11); // σ² of ΔW (11 of them, 3 zero)
    for (const k of [1, 3, 5, 8]) {
      const { files: out, report } = await squeezeLora(files, { rank: k });
      const sig = report[0].singularValues;
      expect(sig.length).toBe(8);
      for (let i = 0; i < 8; i++) expect(Math.abs(sig[i] ** 2 - eig[i])).toBeLessThan(1e-9 * eig[0]);
      for (let i = 8; i < 11; i++) expect(Math.abs(eig[i])).toBeLessThan(1e-9 * eig[0]);
      const total = eig.reduce((a, x) => a + x, 0);
      const kept = eig.slice(0, k).reduce((a, x) => a + x, 0);
      expect(report[0].energy).toBeCloseTo(kept / total, 10);
      // The written adapter really has that error, and it is the best rank-k one (Eckart–Young).
      const back = (await readPeftLora(out)).modules[0];
      const err2 = diff(dense(back, 16 / k), d) ** 2;
      expect(err2 / total).toBeCloseTo(1 - kept / total, 6);
      expect(report[0].relError).toBeCloseTo(Math.sqrt(err2 / total), 5);
      expect(report[0].norm).toBeCloseTo(Math.sqrt(total), 8);
    }
  });

  it("a rank-1 ΔW held at rank 4 squeezes to r' = 1 exactly", async () => {
    const out = 14;
    const inp = 10;
    const r = 4;
    const u = randn(out, 3);
    const c = randn(r, 4);
    const b = new Float32Array(out * r);
    for (let o = 0; o < out; o++) for (let k = 0; k < r; k++) b[o * r + k] = u[o] * c[k]; // B = u·cᵀ: ΔW = u·(cᵀA)
    const m: LoraModule = { key: 'base_model.model.z.q_proj', out, in: inp, r, a: randn(r * inp, 8), b };
    const { files, report } = await squeezeLora(peftFiles([m], r, 8), { rank: 1 });
    expect(report[0].energy).toBeGreaterThan(1 - 1e-12);
    expect(report[0].singularValues.slice(1).every((s) => s < 1e-6 * report[0].singularValues[0])).toBe(true);
    const back = (await readPeftLora(files)).modules[0];
    expect(back.r).toBe(1);
    const want = dense(m, 2);
    expect(diff(dense(back, 8), want) / frob(want)).toBeLessThan(1e-6);
  });

  it('refuses to raise the rank and other bad input', async () => {
    const files = peftFiles([module('base_model.model.a.q_proj', 8, 8, 3, 1)], 3, 3);
    await expect(squeezeLora(files, { rank: 4 })).rejects.toThrow(ConfigError);
    await expect(squeezeLora(files, { rank: 0 })).rejects.toThrow(/positive integer/);
    await expect(squeezeLora(files.slice(0, 1), { rank: 2 })).rejects.toThrow(/adapter_config.json/);
    const shira = [files[0], { name: 'adapter_config.json', bytes: new TextEncoder().encode('{"peft_type":"SHIRA"}') }];
    await expect(squeezeLora(shira, { rank: 2 })).rejects.toThrow(/expected "LORA"/);
  });

  it('the squeezed adapter imports with the lora method: same logits at r\' = r, close when the energy kept ≈ 1 (Llama, DoRA, GPT-2)', async () => {
    const gpu = await testGpu();
    const lora = getMethod('lora');
    const opts = { seed: 3, trainer: trainerConfig(), shape: { B: 2, T: 8, precision: 'f32' as const } };
    const r = rng(2);
    const ids = Array.from({ length: 16 }, () => Math.floor(r() * 37));
    for (const where of ['llama', 'dora', 'gpt2'] as const) {
      const load = (): Promise<CausalLM> => (where === 'gpt2' ? loadModel(gpu, nodeModelDir(GPT2_DIR)) : LlamaModel.load(gpu, tinyModel(LLAMA, 4).files));
      const model = await load();
      const cfg = parseConfig(lora.schema, { rank: 4, alpha: 8, targets: 'all-linear', dora: where === 'dora' });
      const state = await lora.attach(model, cfg, opts);
      // B: a rank-2 part plus a tiny rest (energy beyond rank 2 ≈ 1e-10 of the total).
      for (const [i, t] of state.tensors().entries()) {
        if (!t.name.endsWith('lora_B.weight')) continue;
        const rows = t.n / 4;
        const big = randn(rows * 2, 100 + i, -0.3, 0.3);
        const small = randn(rows * 2, 200 + i, -3e-6, 3e-6);
        const v = new Float32Array(t.n);
        for (let o = 0; o < rows; o++) {
          v[o * 4] = big[o * 2];
          v[o * 4 + 1] = big[o * 2 + 1];
          v[o * 4 + 2] = small[o * 2];
          v[o * 4 + 3] = small[o * 2 + 1];
        }
        gpu.write(t.buf, v);
      }
      const want = await model.logits(ids, 2, 8);
      const files = await state.exportFiles();
      state.dispose();
      for (const [k, tol] of [[4, 1e-5], [2, 1e-4]] as const) {
        const sq = await squeezeLora(files, { rank: k });
        if (k === 4) expect(sq.energy).toBeGreaterThan(1 - 1e-12);
        else for (const m of sq.report) expect(m.energy, m.module).toBeGreaterThan(1 - 1e-8);
        const cfgOut = JSON.parse(new TextDecoder().decode(sq.files[1].bytes)) as Record<string, unknown>;
        expect(cfgOut).toMatchObject({ r: k, lora_alpha: 8, use_dora: where === 'dora', fan_in_fan_out: where === 'gpt2' });
        const imported = await lora.importFiles!(model, sq.files, opts);
        expect(imported.trainableParams).toBeGreaterThan(0);
        expectClose(await model.logits(ids, 2, 8), want, tol, tol, `${where} r'=${k}`);
        imported.dispose();
      }
      model.dispose();
    }
  });
});
