// Issue 15's measured failures of the readers, one test each: hostile inputs cost a clear error
// (naming the file and the limit) in bounded time, and long rows cost work in proportion to T.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { windows } from '../../src/engine/data/corpus.ts';
import { encodeRows, parseDataset, renderPlainChat } from '../../src/engine/data/dataset.ts';
import { TextTokenizer } from '../../src/engine/data/tokenizer.ts';
import { writeGguf } from '../../src/engine/export/gguf.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { SafetensorsFile } from '../../src/engine/io/safetensors.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';

const KJV = new URL('../../public/models/tiny-kjv/', import.meta.url).pathname;
const tok = TextTokenizer.load(readFileSync(`${KJV}tokenizer.json`, 'utf8'), readFileSync(`${KJV}tokenizer_config.json`, 'utf8'));
const LLAMA = JSON.parse(readFileSync(new URL('../fixtures/models/llama-gqa-tied/config.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const words = 'and the lord spake unto moses saying speak unto the children of israel'.split(' ');
const prose = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => words[(i * 7 + seed * 13 + ((i * i) % 5)) % words.length]).join(' ');

describe('bounded readers', () => {
  it('a safetensors header nested 100,000 deep is refused by name, not by a stack overflow', async () => {
    const json = new TextEncoder().encode(`{"a":{"dtype":"F32","shape":${'['.repeat(100000)}${']'.repeat(100000)},"data_offsets":[0,0]}}`);
    const b = new Uint8Array(8 + json.length);
    new DataView(b.buffer).setBigUint64(0, BigInt(json.length), true);
    b.set(json, 8);
    await expect(SafetensorsFile.open(bytesSource(b, 'deep.safetensors'))).rejects.toThrow(/deep\.safetensors: not a valid safetensors file: header JSON nests \d+ levels deep.*MAX_JSON_DEPTH/);
  });

  it('config values outside their domain are refused with the field named', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ partial_rotary_factor: 2 }, /"partial_rotary_factor" should be a number in \(0, 1\]/],
      [{ rms_norm_eps: 0 }, /"rms_norm_eps" should be a number in \(0, 0\.1\]/],
      [{ rms_norm_eps: -1e-6 }, /"rms_norm_eps"/],
      [{ eos_token_id: 10_000 }, /"eos_token_id" should be token ids below vocab_size/],
      [{ bos_token_id: -1 }, /"bos_token_id" should be a token id/],
      [{ vocab_size: 1e308 }, /"vocab_size" should be a positive integer|"vocab_size" should be at most/],
      [{ vocab_size: 2 ** 40 }, /"vocab_size" should be at most 4194304 \(MAX_VOCAB\)/],
      [{ rope_theta: -5 }, /"rope_theta" should be a positive number/],
      [{ rope_scaling: { rope_type: 'linear', factor: 0 } }, /"factor" should be a number above 0/],
      [{ num_hidden_layers: 1e6 }, /"num_hidden_layers" should be at most 1024 \(MAX_MODEL_LAYERS\)/],
    ];
    for (const [patch, want] of bad) expect(() => parseModelConfig({ ...LLAMA, ...patch }, 'm/config.json'), JSON.stringify(patch)).toThrow(want);
    // a deep value in an error message is described, never stringified
    expect(() => parseModelConfig({ ...LLAMA, hidden_size: JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`) as unknown })).toThrow(/found an array of 1 item/);
    expect(parseModelConfig(LLAMA).vocab).toBe(LLAMA.vocab_size);
  });

  it('a row is tokenized only up to T plus a margin: the same tokens as the whole row, in time that does not grow with it', () => {
    // exactness on real text, cut at many T
    const text = readFileSync(new URL('../../public/datasets/kjv-style-chat.jsonl', import.meta.url), 'utf8').slice(0, 12_000);
    const full = tok.encode(text, true);
    for (const T of [2, 9, 64, 257, 1000]) expect(tok.encodePrefix(text, true, T).ids.slice(0, T + 1)).toEqual(full.slice(0, T + 1));
    // a 10 MB row (one BPE word for this tokenizer: it has no pre-tokenizer) in well under a second per MB
    const big = prose(1_800_000);
    const t0 = performance.now();
    const { examples, truncated } = encodeRows([{ kind: 'text', text: big }], tok, { maxTokens: 257, maskPrompt: false, useChatTemplate: true });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(truncated).toBe(1);
    expect(examples[0].tokens).toEqual(tok.encode(big.slice(0, 20_000), true).slice(0, 257));
  });

  it('an 800-turn chat is masked in one walk, with the spans the per-turn re-encoding gave', () => {
    const chat = (turns: number) => Array.from({ length: turns }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: prose(6 + (i % 5), i) }));
    // the former algorithm: the whole conversation re-encoded up to each assistant turn
    const reference = (messages: { role: string; content: string }[], maxTokens: number) => {
      const tokens = tok.encode(renderPlainChat(messages), true);
      tokens.push(tok.eosIds[0]);
      const loss = tokens.map(() => 0);
      const common = (a: number[], b: number[]) => {
        let i = 0;
        while (i < a.length && i < b.length && a[i] === b[i]) i++;
        return i;
      };
      messages.forEach((m, i) => {
        if (m.role !== 'assistant') return;
        const start = Math.max(1, common(tokens, tok.encode(renderPlainChat(messages.slice(0, i), true), true)));
        const end = i === messages.length - 1 ? tokens.length : common(tokens, tok.encode(renderPlainChat(messages.slice(0, i + 1)), true));
        for (let j = start; j < end; j++) loss[j] = 1;
      });
      return { tokens: tokens.slice(0, maxTokens), loss: loss.slice(0, maxTokens) };
    };
    const small = chat(12);
    for (const T of [20, 65, 400]) {
      const { examples } = encodeRows([{ kind: 'chat', messages: small }], tok, { maxTokens: T, maskPrompt: true, useChatTemplate: true });
      expect(examples[0]).toEqual(reference(small, T));
    }
    const t0 = performance.now();
    const { examples } = encodeRows([{ kind: 'chat', messages: chat(800) }], tok, { maxTokens: 257, maskPrompt: true, useChatTemplate: true });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(examples[0].loss.reduce((a, b) => a + b, 0)).toBeGreaterThan(50);
  });

  it('a document of 300,000 tokens is cut into windows without a stack overflow', () => {
    const doc = Array.from({ length: 300_000 }, (_, i) => i % 500);
    const w = windows([doc, [1, 2, 3]], 128, 0);
    expect(w.reduce((a, x) => a + x.length - 1, 0) + 1).toBe(300_000 + 1 + 3);
  });

  it('a chat template that loops for ever stops at its step budget with the file named', () => {
    const cfg = JSON.stringify({ chat_template: '{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}' });
    const t = TextTokenizer.load(readFileSync(`${KJV}tokenizer.json`, 'utf8'), cfg);
    const t0 = performance.now();
    expect(() => t.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/MAX_TEMPLATE_STEPS.*tokenizer_config\.json/);
    expect(performance.now() - t0).toBeLessThan(30_000);
    const doubling = JSON.stringify({ chat_template: "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}" });
    expect(() => TextTokenizer.load(readFileSync(`${KJV}tokenizer.json`, 'utf8'), doubling).applyChatTemplate([])).toThrow(/MAX_TEMPLATE_OUTPUT/);
  });

  it("a tokenizer.json whose normalizer's Replace steps grow text without bound is refused at load", () => {
    const tj = JSON.parse(readFileSync(`${KJV}tokenizer.json`, 'utf8')) as Record<string, unknown>;
    tj.normalizer = { type: 'Sequence', normalizers: Array.from({ length: 30 }, () => ({ type: 'Replace', pattern: { String: 'a' }, content: 'aa' })) };
    expect(() => TextTokenizer.load(JSON.stringify(tj), '{}', [], 'm/')).toThrow(/m\/tokenizer\.json: .*grow a text .*MAX_NORMALIZER_GROWTH/);
  });

  it('a .json dataset with a byte-order mark loads as it does in the page', () => {
    const p = parseDataset('d.json', '\ufeff[{"text": "In the beginning"}]');
    expect(p.errors).toEqual([]);
    expect(p.rows).toEqual([{ kind: 'text', text: 'In the beginning' }]);
    expect(parseDataset('d.jsonl', '\ufeff{"text": "a"}\n').rows).toHaveLength(1);
  });

  it('the GGUF writer refuses integers outside their type instead of wrapping them', () => {
    expect(() => writeGguf([['k', { type: 'u64', value: 2n ** 64n }]], [])).toThrow(/"k": 18446744073709551616 is not a u64/);
    expect(() => writeGguf([['k', { type: 'i64', value: -(2n ** 63n) - 1n }]], [])).toThrow(/is not a i64/);
    expect(() => writeGguf([['k', { type: 'f32', value: 1e39 }]], [])).toThrow(/too large for an f32/);
    expect(() => writeGguf([['k', { type: 'u64', value: 2n ** 64n - 1n }]], [])).not.toThrow();
  });
});
