import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../src/engine/data/tokenizer.ts';
import { HAVE_STORIES, itStories, STORIES } from '../helpers/shared.ts';

// stories260K's tokenizer and llama2.c's reference text where ../shared is there; the
// built-in model's (the same kind: byte-fallback BPE, SentencePiece-style decoder) otherwise.
const DIR = HAVE_STORIES ? `${STORIES}/` : new URL('../../public/models/tiny-kjv/', import.meta.url).pathname;
const tj = readFileSync(`${DIR}tokenizer.json`, 'utf8');
const tc = readFileSync(`${DIR}tokenizer_config.json`, 'utf8');
const ref: { greedy_ids_200: number[]; expected_text_200_tokens: string } = HAVE_STORIES
  ? JSON.parse(readFileSync(`${DIR}reference.json`, 'utf8'))
  : { greedy_ids_200: [], expected_text_200_tokens: '' };

describe('tokenizer (byte-fallback BPE)', () => {
  const tok = TextTokenizer.load(tj, tc, [2]);

  itStories('decodes the reference greedy tokens to the reference text', () => {
    expect(tok.decode(ref.greedy_ids_200)).toBe(ref.expected_text_200_tokens);
  });

  itStories('encodes with BOS and round-trips; knows BOS and EOS', () => {
    const ids = tok.encode('Once upon a time, there was a little girl named Lily.');
    expect(ids[0]).toBe(1);
    expect(ids.slice(1, 6)).toEqual(ref.greedy_ids_200.slice(0, 5));
    expect(tok.decode(ids)).toBe('Once upon a time, there was a little girl named Lily.');
    expect(tok.bosId).toBe(1);
    expect(tok.eosIds).toEqual([2]);
  });

  it('renders a chat template when the config has one, and says so when it has none', () => {
    expect(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/no chat_template/);
    const chatml = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    const cfg = JSON.stringify({ ...JSON.parse(tc), chat_template: chatml });
    const chat = TextTokenizer.load(tj, cfg);
    expect(chat.applyChatTemplate([{ role: 'user', content: 'Tell a story.' }], true)).toBe('<|im_start|>user\nTell a story.<|im_end|>\n<|im_start|>assistant\n');
  });

  it('names the file when it is not a tokenizer', () => {
    expect(() => TextTokenizer.load('{"version": "1.0"}', '{}', [], 'my-model/')).toThrow(/my-model\/tokenizer\.json has no "model" object/);
    expect(() => TextTokenizer.load('nope', '{}', [], 'm/')).toThrow(/m\/tokenizer\.json is not valid JSON/);
  });
});
