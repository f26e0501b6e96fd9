// Streaming generated text (data/text-stream.ts), on the built-in model's tokenizer: a
// byte-fallback BPE whose decoder replaces '▁' by a space and strips the leading one
// (SentencePiece style, as Llama's and stories260K's do).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { continuationText, TextStream } from '../../src/engine/data/text-stream.ts';
import { TextTokenizer } from '../../src/engine/data/tokenizer.ts';

const DIR = new URL('../../public/models/tiny-kjv/', import.meta.url).pathname;
const tok = TextTokenizer.load(readFileSync(`${DIR}tokenizer.json`, 'utf8'), readFileSync(`${DIR}tokenizer_config.json`, 'utf8'));
const decode = (ids: readonly number[]) => tok.decode(ids);

describe('text stream', () => {
  const text = 'And God said, Let there be light: “café” — naïve ünïcödé 🙂 and there was light.';
  const ids = tok.encode(text);

  it('the text has byte-fallback characters split across tokens (what the test is about)', () => {
    const pieces = ids.map((id) => decode([id]));
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(true);
    // Decoding token by token loses the spaces that start words.
    expect(pieces.join('')).not.toBe(decode(ids));
  });

  it('deltas join to exactly the continuation, keep the joining space, and never show half a character', () => {
    for (let k = 1; k < ids.length; k++) {
      const prompt = ids.slice(0, k);
      const s = new TextStream(decode, prompt);
      const deltas = ids.slice(k).map((id) => s.push(id));
      deltas.push(s.finish());
      const want = decode(ids).slice(decode(prompt).replace(/\uFFFD+$/, '').length);
      expect(deltas.join(''), `prompt of ${k} tokens`).toBe(want);
      expect(s.text).toBe(want);
      expect(deltas.every((d) => !d.includes('\uFFFD'))).toBe(true);
      expect(continuationText(decode, prompt, ids.slice(k))).toBe(want);
    }
    // The space joining prompt and continuation is there.
    const said = tok.encode('And God said');
    const rest = tok.encode('And God said unto Moses', true).slice(said.length);
    expect(continuationText(decode, said, rest)).toBe(' unto Moses');
  });

  it('an unfinished character at the end comes out as U+FFFD from finish()', () => {
    const quote = tok.encode('“', false).filter((id) => decode([id]) === '\uFFFD');
    expect(quote.length).toBe(3); // E2 80 9C
    const s = new TextStream(decode, tok.encode('light'));
    expect(
      quote
        .slice(0, -1)
        .map((id) => s.push(id))
        .join(''),
    ).toBe('');
    expect(s.finish()).toContain('\uFFFD');
  });
});
