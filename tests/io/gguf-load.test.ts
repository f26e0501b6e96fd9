// A GGUF file as the base model: webtune reads the files the tests write in each tensor
// type (F32, F16, BF16, Q8_0, Q4_0, and a Q4_K_M-style mix of Q4_K / Q5_K / Q6_K encoded by
// tests/helpers/ggml-encode.ts from ggml's block definitions) and its next-token
// log-probabilities match the real llama.cpp's on the same file; the tokenizer built from
// the GGUF metadata encodes as the model's own tokenizer.json and as llama.cpp does.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeMergedGguf } from '../../src/engine/export/merged-gguf.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { ggufModelFiles } from '../../src/engine/io/gguf-model.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import type { ModelFiles } from '../../src/engine/io/model-files.ts';
import { loadTokenizer, TextTokenizer } from '../../src/engine/data/tokenizer.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import type { BasePrecision } from '../../src/engine/model/decoder.ts';
import { GGML } from '../../src/engine/quant/ggml.ts';
import { dequantize } from '../../src/engine/quant/block.ts';
import { testGpu } from '../helpers/gpu.ts';
import { retypeGguf } from '../helpers/ggml-encode.ts';
import { CORPUS, HAVE_STORIES, STORIES, memoryOut, qwen2Model } from '../helpers/gguf-models.ts';
import { llamaCpp } from '../helpers/llama-cpp.ts';

const TMP = mkdtempSync(join(tmpdir(), 'webtune-gguf-load-'));

async function f32Gguf(files: ModelFiles): Promise<Uint8Array> {
  const out = await memoryOut();
  await writeMergedGguf(files, [], out, { type: 'F32' });
  return out.bytes();
}

function save(name: string, bytes: Uint8Array): string {
  const p = join(TMP, name);
  writeFileSync(p, bytes);
  return p;
}

async function open(bytes: Uint8Array, name: string) {
  return ggufModelFiles(bytesSource(bytes, name));
}

const TEXTS = ['Once upon a time, there was a little girl named Lily.', ' She  loved\nthe sun 123 — naïve café!', 'x', '  leading spaces and trailing  '];

/**
 * llama.cpp on the file against webtune on the same file, and against webtune on the
 * unquantized original (`original`, an F32 GGUF): the worst |Δ log p| over llama.cpp's five
 * most likely tokens at each step of its greedy continuation. llama.cpp's CPU matmuls round
 * the activations to the weight's dot-product type (F16, BF16, or 8-bit blocks for Q8_0,
 * Q4_0 and the K-quants), so the two cannot agree to f32 precision; reading the file right
 * shows as agreeing far better than the original weights do.
 */
async function compare(path: string, bytes: Uint8Array, original: Uint8Array, prompt: number[], n: number, precision: BasePrecision = 'f32') {
  const cpp = await llamaCpp();
  const theirs = await cpp.greedy(path, prompt, n, { full: true });
  await cpp.unload(path);
  const gpu = await testGpu();
  const worstAgainst = async (b: Uint8Array) => {
    const model = await loadModel(gpu, await open(b, path), { precision });
    // Teacher-forced on llama.cpp's tokens, so both see the same sequence.
    const seq = [...prompt, ...theirs.tokens.slice(0, n - 1)];
    const V = model.spec.vocab;
    const logits = await model.logits(seq, 1, seq.length);
    model.dispose();
    let worst = 0;
    const argmax: number[] = [];
    theirs.probs.forEach((top, s) => {
      const row = logits.subarray((prompt.length - 1 + s) * V, (prompt.length + s) * V);
      let max = -Infinity;
      row.forEach((x) => (max = Math.max(max, x)));
      argmax.push(row.indexOf(max));
      let sum = 0;
      row.forEach((x) => (sum += Math.exp(x - max)));
      for (const [id] of top) worst = Math.max(worst, Math.abs(theirs.logprobs![s][id] - (row[id] - max - Math.log(sum))));
    });
    return { worst, same: argmax.join() === theirs.tokens.join() };
  };
  const file = await worstAgainst(bytes);
  const orig = await worstAgainst(original);
  return { worst: file.worst, same: file.same, original: orig.worst };
}

describe('GGUF as the base model', () => {
  it.runIf(HAVE_STORIES)('stories260K from its F32 GGUF: the same logits as from its Hugging Face folder (q/k permutation undone, config from the metadata)', async () => {
    const bytes = await f32Gguf(nodeModelDir(STORIES));
    const gpu = await testGpu();
    const g = await open(bytes, 'stories260K-f32.gguf');
    const a = await loadModel(gpu, g);
    const b = await loadModel(gpu, nodeModelDir(STORIES));
    const ids = [1, 403, 407, 261, 450, 300, 13];
    const la = await a.logits(ids, 1, ids.length);
    const lb = await b.logits(ids, 1, ids.length);
    let worst = 0;
    la.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - lb[i]))));
    expect(worst).toBeLessThanOrEqual(1e-5);
    expect({ ...a.spec, normEps: 0 }).toEqual({ ...b.spec, normEps: 0 });
    expect(a.spec.normEps).toBe(Math.fround(b.spec.normEps)); // GGUF holds it as f32
    a.dispose();
    b.dispose();
  });

  it.runIf(HAVE_STORIES)('stories260K: the tokenizer from the GGUF metadata encodes as tokenizer.json and as llama.cpp', async () => {
    const bytes = await f32Gguf(nodeModelDir(STORIES));
    const path = save('stories-tok.gguf', bytes);
    const ours = await loadTokenizer(await open(bytes, path));
    const hf = await loadTokenizer(nodeModelDir(STORIES));
    const cpp = await llamaCpp();
    for (const t of TEXTS) {
      const theirs = await cpp.tokenize(path, t);
      expect(ours.encode(t, false), t).toEqual(theirs);
      if (!t.includes('  ')) expect(ours.encode(t, false), t).toEqual(hf.encode(t, false)); // tokenizer.json does not fold runs of spaces (CARD.md)
      expect(ours.decode(ours.encode(t, false))).toBe(hf.decode(hf.encode(t, false)));
    }
    expect(ours.encode('Hi', true)[0]).toBe(1);
    await cpp.unload(path);
  });

  it('a Qwen2 byte-level tokenizer from the GGUF metadata encodes as its tokenizer.json and as llama.cpp; the chat template comes along', async () => {
    const { files, raw } = await qwen2Model();
    const bytes = await f32Gguf(files);
    const path = save('qwen2-tok.gguf', bytes);
    const ours = await loadTokenizer(await open(bytes, path));
    const hf = TextTokenizer.load(new TextDecoder().decode(raw['tokenizer.json']), new TextDecoder().decode(raw['tokenizer_config.json']));
    const cpp = await llamaCpp();
    for (const t of [...TEXTS, CORPUS, '<|im_start|>user\nhello<|im_end|>']) {
      expect(ours.encode(t, false), t).toEqual(hf.encode(t, false));
      expect(ours.encode(t, false), t).toEqual(await cpp.tokenize(path, t, true));
    }
    expect(ours.chatTemplate).toBe(hf.chatTemplate);
    expect(ours.eosIds).toEqual(hf.eosIds);
    expect((await cpp.meta(path)).chatTemplate).toBe(hf.chatTemplate);
    await cpp.unload(path);
  });

  // From llama.cpp's activation rounding (see compare): measured worst 6e-3, 5e-2, 0.14, 0.14.
  const TOL: Record<string, number> = { F16: 1.5e-2, BF16: 0.1, Q8_0: 0.25, Q4_0: 0.25 };
  it.runIf(HAVE_STORIES)('Q8_0 and Q4_0 tensors load as q8 / q4 blocks bit for bit: the same weights the f32 read decodes, no re-quantizing', async () => {
    const src = await f32Gguf(nodeModelDir(STORIES));
    for (const [type, fmt] of [[GGML.Q8_0, 'q8'], [GGML.Q4_0, 'q4']] as const) {
      const g = await open(await retypeGguf(src, (_n, cols) => (cols % 32 === 0 ? type : undefined), 7), 'b.gguf');
      const ck = await g.checkpoint!();
      for (const name of ['model.layers.1.self_attn.q_proj.weight', 'model.layers.2.self_attn.k_proj.weight', 'model.layers.0.mlp.up_proj.weight']) {
        const t = ck.get(name)!;
        const blocks = (await t.readBlocks!(name, fmt))!;
        expect(blocks.format).toBe(fmt);
        expect(Array.from(dequantize(blocks))).toEqual(Array.from(await t.readF32(name)));
        expect(await t.readBlocks!(name, fmt === 'q8' ? 'q4' : 'q8')).toBeUndefined();
      }
    }
  });

  const storiesTypes: [string, number, number][] = [
    ['F16', GGML.F16, 1],
    ['BF16', GGML.BF16, 32],
    ['Q8_0', GGML.Q8_0, 7],
    ['Q4_0', GGML.Q4_0, 2],
  ];
  for (const [label, type, fileType] of storiesTypes) {
    it.runIf(HAVE_STORIES)(`stories260K in ${label}: webtune's log-probabilities match llama.cpp's on the same file`, async () => {
      const src = await f32Gguf(nodeModelDir(STORIES));
      const bytes = await retypeGguf(src, (_n, cols) => (cols % 32 === 0 ? type : GGML.F16), fileType);
      const r = await compare(save(`stories-${label}.gguf`, bytes), bytes, src, [1, 403, 407], 6);
      console.log(`stories ${label}: worst |Δ log p| ${r.worst.toExponential(2)} (the F32 original: ${r.original.toExponential(2)})`);
      expect(r.same).toBe(true);
      expect(r.worst).toBeLessThanOrEqual(TOL[label]);
      if (label === 'Q4_0') expect(r.worst).toBeLessThan(r.original / 3); // the file's 4-bit weights, not the original's
    });
  }

  it('a Qwen2-shaped model in a Q4_K_M-style mix (Q4_K, Q5_K, Q6_K): webtune decodes the K-quants as llama.cpp does', async () => {
    const { files } = await qwen2Model(11, { hidden: 256, intermediate: 512, headDim: 64 });
    const src = await f32Gguf(files);
    const pick = (name: string, cols: number) => {
      if (cols % 256 !== 0) return GGML.Q8_0;
      if (/attn_v|ffn_down|^output\./.test(name)) return GGML.Q6_K;
      if (/attn_output/.test(name)) return GGML.Q5_K;
      return GGML.Q4_K;
    };
    const bytes = await retypeGguf(src, pick, 15);
    const g = await open(bytes, 'kq.gguf');
    expect(g.conversion.types).toMatchObject({ Q4_K: expect.any(Number), Q5_K: expect.any(Number), Q6_K: expect.any(Number) });
    expect(g.conversion.note('q4')).toMatch(/re-quantized to q4/);
    const r = await compare(save('qwen2-q4km.gguf', bytes), bytes, src, [5, 60, 70, 80], 5);
    console.log(`qwen2 Q4_K_M-style: worst |Δ log p| ${r.worst.toExponential(2)} (the F32 original: ${r.original.toExponential(2)})`);
    expect(r.same).toBe(true);
    expect(r.worst).toBeLessThanOrEqual(0.3); // measured 0.22: Q8_K activations on 256-wide rows
    expect(r.worst).toBeLessThan(r.original / 3); // the decoded K-quant weights, not something near them
  });
});
