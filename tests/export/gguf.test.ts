// GGUF writing and the PEFT LoRA → llama.cpp LoRA conversion, re-read by an independent
// parser (@huggingface/gguf) and by a reader written here from the format description,
// with the data checked against the PEFT tensors (q/k lora_b permuted as llama.cpp's
// converter permutes the base q/k rows).

import { gguf } from '@huggingface/gguf';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { f64ToBf16Bits, f64ToF16Bits } from '../../src/engine/export/dtype.ts';
import { GgufError, writeGguf } from '../../src/engine/export/gguf.ts';
import { peftLoraToGguf } from '../../src/engine/export/lora-gguf.ts';
import { writeSafetensors } from '../../src/engine/io/safetensors.ts';
import { parseModelConfig, type ModelSpec } from '../../src/engine/model/config.ts';
import { linearShapes } from '../../src/engine/model/memory.ts';
import { f16ToF32, f32ToF16 } from '../../src/engine/quant/block.ts';
import type { ExportFile } from '../../src/engine/methods/types.ts';
import { randn } from '../helpers/gpu.ts';
import { LLAMA, QWEN2 } from '../helpers/tiny-model.ts';
import { readFileSync } from 'node:fs';

const GPT2 = JSON.parse(readFileSync(new URL('../fixtures/models/gpt2/config.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** A reader from the format description (independent of the writer's code). */
function readGgufHere(bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const u32 = () => ((at += 4), dv.getUint32(at - 4, true));
  const u64 = () => ((at += 8), Number(dv.getBigUint64(at - 8, true)));
  const str = () => {
    const n = u64();
    at += n;
    return new TextDecoder().decode(bytes.subarray(at - n, at));
  };
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  at = 4;
  const version = u32();
  const nT = u64();
  const nKv = u64();
  const kv = new Map<string, { type: number; value: unknown }>();
  const value = (type: number): unknown => {
    switch (type) {
      case 4: return u32();
      case 5: return ((at += 4), dv.getInt32(at - 4, true));
      case 6: return ((at += 4), dv.getFloat32(at - 4, true));
      case 7: return ((at += 1), dv.getUint8(at - 1) !== 0);
      case 8: return str();
      case 9: {
        const t = u32();
        const n = u64();
        return Array.from({ length: n }, () => value(t));
      }
      case 10: return u64();
      case 12: return ((at += 8), dv.getFloat64(at - 8, true));
      default: throw new Error(`type ${type} not read here`);
    }
  };
  for (let i = 0; i < nKv; i++) {
    const k = str();
    const t = u32();
    kv.set(k, { type: t, value: value(t) });
  }
  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nT; i++) {
    const name = str();
    const nd = u32();
    const dims = Array.from({ length: nd }, () => u64());
    infos.push({ name, dims, type: u32(), offset: u64() });
  }
  const align = (kv.get('general.alignment')?.value as number | undefined) ?? 32;
  const dataStart = Math.ceil(at / align) * align;
  const data = (t: (typeof infos)[number]) => {
    const n = t.dims.reduce((a, d) => a * d, 1);
    const off = dataStart + t.offset;
    if (t.type === 0) return Float32Array.from({ length: n }, (_, i) => dv.getFloat32(off + 4 * i, true));
    return Float32Array.from({ length: n }, (_, i) => f16ToF32(dv.getUint16(off + 2 * i, true)));
  };
  return { magic, version, kv, infos, dataStart, align, data };
}

async function hfParse(bytes: Uint8Array) {
  const dir = mkdtempSync(join(tmpdir(), 'webtune-gguf-'));
  const p = join(dir, 'a.gguf');
  writeFileSync(p, bytes);
  const r = await gguf(p, { allowLocalFile: true, typedMetadata: true });
  return { ...r, metadata: r.metadata as unknown as Record<string, unknown>, typedMetadata: r.typedMetadata as unknown as Record<string, unknown> };
}

/** llama.cpp's permute written as a generic reshape / swapaxes on index tuples. */
function permuteRef(w: Float32Array, nHead: number, cols: number): Float32Array {
  const rows = w.length / cols;
  const half = rows / nHead / 2;
  // view as [nHead, 2, half, cols]; swap axes 1 and 2 → [nHead, half, 2, cols]; flatten
  const out = new Float32Array(w.length);
  let k = 0;
  for (let h = 0; h < nHead; h++) for (let j = 0; j < half; j++) for (let a = 0; a < 2; a++) for (let c = 0; c < cols; c++) out[k++] = w[((h * 2 + a) * half + j) * cols + c];
  return out;
}

/** A PEFT LoRA export for `spec` (every linear, rank r), as methods/lora/peft.ts lays it out. */
function peftFiles(spec: ModelSpec, r: number, cfg: Record<string, unknown> = {}, extra: { name: string; shape: number[] }[] = []) {
  const tensors: { name: string; dtype: 'F32'; shape: number[]; data: Float32Array }[] = [];
  let seed = 100;
  for (const l of linearShapes(spec)) {
    const p = `base_model.model.${spec.family === 'gpt2' ? `transformer.${l.name}` : l.name}`;
    tensors.push({ name: `${p}.lora_A.weight`, dtype: 'F32', shape: [r, l.in], data: randn(r * l.in, seed++, -1, 1) });
    tensors.push({ name: `${p}.lora_B.weight`, dtype: 'F32', shape: [l.out, r], data: randn(l.out * r, seed++, -1, 1) });
  }
  for (const e of extra) tensors.push({ name: e.name, dtype: 'F32', shape: e.shape, data: randn(e.shape.reduce((a, b) => a * b, 1), seed++) });
  const config = { peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: 'tiny', r, lora_alpha: 16, target_modules: [], use_rslora: false, use_dora: false, fan_in_fan_out: spec.family === 'gpt2', bias: 'none', ...cfg };
  const files: ExportFile[] = [
    { name: 'adapter_model.safetensors', bytes: writeSafetensors(tensors, { format: 'pt' }) },
    { name: 'adapter_config.json', bytes: new TextEncoder().encode(JSON.stringify(config)) },
  ];
  return { files, tensors: new Map(tensors.map((t) => [t.name, t.data])) };
}

describe('GGUF writer', () => {
  it('writes v3 with typed metadata, reversed dims, aligned offsets; @huggingface/gguf and a reader from the spec agree', async () => {
    const a = Float32Array.from([1.5, -2, 3]); // 12 bytes: the next tensor needs padding
    const b = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555]);
    const c = randn(2 * 3 * 4, 5);
    const bytes = writeGguf(
      [
        ['general.architecture', { type: 'string', value: 'llama' }],
        ['general.alignment', { type: 'u32', value: 64 }],
        ['x.i32', { type: 'i32', value: -7 }],
        ['x.f32', { type: 'f32', value: 0.25 }],
        ['x.bool', { type: 'bool', value: true }],
        ['x.u64', { type: 'u64', value: 2n ** 40n }],
        ['x.f64', { type: 'f64', value: Math.PI }],
        ['x.arr', { type: 'array', of: 'u32', value: [1, 2, 3] }],
        ['x.strs', { type: 'array', of: 'string', value: ['é', 'b'] }],
      ],
      [
        { name: 'a', type: 'F32', shape: [3], data: a },
        { name: 'b', type: 'F16', shape: [2, 3], data: b },
        { name: 'c', type: 'F32', shape: [2, 3, 4], data: c },
      ],
    );
    const hf = await hfParse(bytes);
    expect(hf.metadata.version).toBe(3);
    expect(hf.metadata['general.architecture']).toBe('llama');
    expect(hf.typedMetadata['x.i32']).toEqual({ value: -7, type: 5 });
    expect(hf.typedMetadata['x.f32']).toEqual({ value: 0.25, type: 6 });
    expect(hf.typedMetadata['x.bool']).toEqual({ value: true, type: 7 });
    expect(hf.typedMetadata['x.u64']).toEqual({ value: 2n ** 40n, type: 10 });
    expect(hf.typedMetadata['x.f64']).toEqual({ value: Math.PI, type: 12 });
    expect(hf.typedMetadata['x.arr']).toMatchObject({ value: [1, 2, 3], type: 9, subType: 4 });
    expect(hf.metadata['x.strs']).toEqual(['é', 'b']);
    expect(hf.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)])).toEqual([
      ['a', [3], 0, 0],
      ['b', [3, 2], 1, 64],
      ['c', [4, 3, 2], 0, 128],
    ]);
    expect(Number(hf.tensorDataOffset) % 64).toBe(0);
    const own = readGgufHere(bytes);
    expect(own.magic).toBe('GGUF');
    expect(own.dataStart).toBe(Number(hf.tensorDataOffset));
    expect([...own.data(own.infos[0])]).toEqual([...a]);
    expect([...own.data(own.infos[1])]).toEqual([...b].map(f16ToF32));
    expect([...own.data(own.infos[2])]).toEqual([...c]);
    expect(bytes.length % 64).toBe(0);
  });

  it('refuses what ggml cannot read', () => {
    const t = (name: string, shape: number[], n = shape.reduce((x, y) => x * y, 1)) => ({ name, type: 'F32' as const, shape, data: new Float32Array(n) });
    expect(() => writeGguf([], [t('x'.repeat(64), [1])])).toThrow(GgufError);
    expect(() => writeGguf([], [t('a', [1]), t('a', [1])])).toThrow(/twice/);
    expect(() => writeGguf([], [t('a', [1, 1, 1, 1, 1])])).toThrow(/dims/);
    expect(() => writeGguf([], [t('a', [2], 3)])).toThrow(/needs 2 values/);
    expect(() => writeGguf([['general.alignment', { type: 'u32', value: 24 }]], [])).toThrow(/power of two/);
    expect(() => writeGguf([['k', { type: 'u8', value: 300 }]], [])).toThrow(/not a u8/);
  });

  it('rounds f64 to F16 and BF16 to nearest even in one step', () => {
    for (const x of randn(2000, 9, -70000, 70000)) expect(f64ToF16Bits(x)).toBe(f32ToF16(x)); // f32 inputs: one rounding either way
    for (const x of [1e-8, -3e-6, 6.1e-5, 65504, 65519.99, 65520, -1e9, 0, -0]) expect(f64ToF16Bits(x)).toBe(f32ToF16(Math.fround(x)));
    expect(f64ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f64ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // 1 + 2^-11 + 2^-40 is just above the tie: f64 → f16 rounds up; through f32 it would tie and go down.
    expect(f64ToF16Bits(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
    expect(f64ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f64ToBf16Bits(1 + 2 ** -8 + 2 ** -40)).toBe(0x3f81);
    expect(f64ToBf16Bits(-2.5)).toBe(0xc020);
    expect(f64ToBf16Bits(3.4e38)).toBe(0x7f80); // past (2 − 2^-8)·2^127: overflow
    expect([2 ** -133, 2 ** -134, 1.5 * 2 ** -133, 2 ** -134 + 2 ** -160].map(f64ToBf16Bits)).toEqual([1, 0, 2, 1]); // subnormals, ties to even
  });
});

describe('PEFT LoRA → llama.cpp GGUF', () => {
  const check = async (config: Record<string, unknown>, want: { arch: string; names: Record<string, string>; permuted: boolean }) => {
    const spec = parseModelConfig(config);
    const { files, tensors } = peftFiles(spec, 2);
    const res = await peftLoraToGguf(files, spec);
    expect(res.arch).toBe(want.arch);
    const hf = await hfParse(res.bytes);
    expect(hf.metadata['general.architecture']).toBe(want.arch);
    expect(hf.metadata['general.type']).toBe('adapter');
    expect(hf.metadata['adapter.type']).toBe('lora');
    expect(hf.typedMetadata['adapter.lora.alpha']).toEqual({ value: 16, type: 6 });
    expect(hf.typedMetadata['general.quantization_version']).toEqual({ value: 2, type: 4 });
    const own = readGgufHere(res.bytes);
    expect(own.infos.length).toBe(2 * linearShapes(spec).length);
    const byName = new Map(own.infos.map((t) => [t.name, t]));
    expect(hf.tensorInfos.map((t) => t.name)).toEqual(own.infos.map((t) => t.name));
    for (const t of hf.tensorInfos) expect(Number(t.offset) % 32).toBe(0);
    for (const l of linearShapes(spec)) {
      const kind = l.name.slice(l.name.indexOf('.', spec.family === 'gpt2' ? 2 : 13) + 1);
      const gname = `blk.${l.layer}.${want.names[kind]}.weight`;
      const p = `base_model.model.${spec.family === 'gpt2' ? `transformer.${l.name}` : l.name}`;
      const a = byName.get(`${gname}.lora_a`);
      const b = byName.get(`${gname}.lora_b`);
      expect(a, gname).toBeDefined();
      expect(b, gname).toBeDefined();
      // ggml ne order: A (r, in) → [in, r]; B (out, r) → [r, out]; llama.cpp's checks:
      expect(a!.dims).toEqual([l.in, 2]);
      expect(b!.dims).toEqual([2, l.out]);
      expect([a!.type, b!.type]).toEqual([0, 0]);
      expect([...own.data(a!)]).toEqual([...tensors.get(`${p}.lora_A.weight`)!]);
      const B = tensors.get(`${p}.lora_B.weight`)!;
      const heads = l.kind === 'q_proj' ? spec.heads : l.kind === 'k_proj' ? spec.kvHeads : 0;
      const wantB = want.permuted && heads ? permuteRef(B, heads, 2) : B;
      expect([...own.data(b!)], `${gname}.lora_b`).toEqual([...wantB]);
      if (want.permuted && heads) expect([...wantB]).not.toEqual([...B]);
    }
  };

  it('Llama: blk.N.attn_q … ffn_down, A [r, in] / B [out, r], q and k lora_b rows permuted per (KV) head', async () => {
    await check(LLAMA, {
      arch: 'llama', permuted: true,
      names: { 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down' },
    });
  });

  it('Mistral is llama.cpp arch "llama" (permuted); Qwen2 is "qwen2" and not permuted', async () => {
    const names = { 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down' };
    await check({ ...LLAMA, architectures: ['MistralForCausalLM'] }, { arch: 'llama', permuted: true, names });
    await check(QWEN2, { arch: 'qwen2', permuted: false, names });
  });

  it('GPT-2 (Conv1D, fan_in_fan_out): attn_qkv, attn_output, ffn_up, ffn_down with PEFT\'s A and B unchanged', async () => {
    await check(GPT2, { arch: 'gpt2', permuted: false, names: { 'attn.c_attn': 'attn_qkv', 'attn.c_proj': 'attn_output', 'mlp.c_fc': 'ffn_up', 'mlp.c_proj': 'ffn_down' } });
  });

  it('the permutation is the one that turns rotate-half RoPE into llama.cpp\'s interleaved pairs', async () => {
    // q = ΔW·x per head: rotate-half RoPE on q, then permuted, equals interleaved RoPE on the
    // permuted q (so llama.cpp computes with the permuted lora_b what PEFT computed).
    const D = 8;
    const heads = 2;
    const q = randn(heads * D, 3);
    const pos = 5;
    const theta = (i: number) => pos / 10000 ** ((2 * i) / D);
    const halfRope = (v: Float32Array) => {
      const o = new Float64Array(v.length);
      for (let h = 0; h < heads; h++) for (let i = 0; i < D / 2; i++) {
        const [x0, x1] = [v[h * D + i], v[h * D + i + D / 2]];
        o[h * D + i] = x0 * Math.cos(theta(i)) - x1 * Math.sin(theta(i));
        o[h * D + i + D / 2] = x1 * Math.cos(theta(i)) + x0 * Math.sin(theta(i));
      }
      return o;
    };
    const pairRope = (v: Float32Array) => {
      const o = new Float64Array(v.length);
      for (let h = 0; h < heads; h++) for (let i = 0; i < D / 2; i++) {
        const [x0, x1] = [v[h * D + 2 * i], v[h * D + 2 * i + 1]];
        o[h * D + 2 * i] = x0 * Math.cos(theta(i)) - x1 * Math.sin(theta(i));
        o[h * D + 2 * i + 1] = x1 * Math.cos(theta(i)) + x0 * Math.sin(theta(i));
      }
      return o;
    };
    const { permuteHeadRows } = await import('../../src/engine/export/lora-gguf.ts');
    const left = permuteHeadRows(Float32Array.from(halfRope(q)), heads, 1);
    const right = pairRope(permuteHeadRows(q, heads, 1));
    for (let i = 0; i < q.length; i++) expect(left[i]).toBeCloseTo(right[i], 6);
  });

  it('rsLoRA: adapter.lora.alpha = alpha·√r so llama.cpp\'s alpha / r is PEFT\'s alpha / √r; F16 on request', async () => {
    const spec = parseModelConfig(LLAMA);
    const { files, tensors } = peftFiles(spec, 4, { use_rslora: true, lora_alpha: 3 });
    const res = await peftLoraToGguf(files, spec, { type: 'F16', name: 'my adapter' });
    expect(res.alpha).toBe(Math.fround(3 * 2));
    const hf = await hfParse(res.bytes);
    expect(hf.metadata['adapter.lora.alpha']).toBe(6);
    expect(hf.metadata['general.name']).toBe('my adapter');
    const own = readGgufHere(res.bytes);
    const a = own.infos.find((t) => t.name === 'blk.1.ffn_down.weight.lora_a')!;
    expect(a.type).toBe(1);
    expect(hf.tensorInfos.find((t) => t.name === a.name)?.dtype).toBe(1);
    const A = tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')!;
    expect([...own.data(a)]).toEqual([...A].map((x) => f16ToF32(f32ToF16(x))));
  });

  it('refuses DoRA, SHiRA, other PEFT types, missing files, unknown modules and wrong shapes, naming the tensor', async () => {
    const spec = parseModelConfig(LLAMA);
    const dora = peftFiles(spec, 2, { use_dora: true });
    await expect(peftLoraToGguf(dora.files, spec)).rejects.toThrow(/DoRA adapters \(use_dora\) cannot go to llama\.cpp.*--format merged/);
    const mag = peftFiles(spec, 2, {}, [{ name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector', shape: [16] }]);
    await expect(peftLoraToGguf(mag.files, spec)).rejects.toThrow(/lora_magnitude_vector", a DoRA magnitude/);
    const shira = peftFiles(spec, 2, { peft_type: 'SHIRA' });
    await expect(peftLoraToGguf(shira.files, spec)).rejects.toThrow(/SHiRA.*Convert it to a LoRA adapter first/);
    await expect(peftLoraToGguf(peftFiles(spec, 2, { peft_type: 'IA3' }).files, spec)).rejects.toThrow(/peft_type "IA3"/);
    const plain = peftFiles(spec, 2);
    await expect(peftLoraToGguf(plain.files.slice(0, 1), spec)).rejects.toThrow(/no adapter_config\.json/);
    await expect(peftLoraToGguf(plain.files.slice(1), spec)).rejects.toThrow(/no adapter_model\.safetensors/);
    const odd = peftFiles(spec, 2, {}, [{ name: 'base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight', shape: [2, 16] }]);
    await expect(peftLoraToGguf(odd.files, spec)).rejects.toThrow(/layers\.7\.self_attn\.q_proj.*no linear layer/);
    const emb = peftFiles(spec, 2, {}, [{ name: 'base_model.model.model.embed_tokens.lora_embedding_A', shape: [2, 37] }]);
    await expect(peftLoraToGguf(emb.files, spec)).rejects.toThrow(/lora_embedding_A", which is not a lora_A \/ lora_B weight/);
    // A wrong shape: the Qwen2 adapter on the Llama spec (kv heads differ: k_proj out 6 ≠ 8).
    const q = peftFiles(parseModelConfig(QWEN2), 2);
    await expect(peftLoraToGguf(q.files, spec)).rejects.toThrow(/q_proj has lora_A \[2,16\] and lora_B \[24,2\]; LlamaForCausalLM needs \[r, 16\] and \[16, r\]/);
    const rk = peftFiles(spec, 2, { use_rslora: true, rank_pattern: { q_proj: 4 } });
    expect((await peftLoraToGguf(rk.files, spec)).alpha).toBeCloseTo(16 * Math.SQRT2, 5); // one rank in the file: fine
  });
});
