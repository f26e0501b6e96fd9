// Exact-match accuracy: the comparison rule, and the whole path (encode the prompt, greedy
// generation on the GPU, decode, compare) with the built-in model on the verse-reference
// sample set. The untuned model scores about 0; what is checked is the code path.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDataset, type DatasetRow } from '../../src/engine/data/dataset.ts';
import { answerOf, completionMatches, exactMatch } from '../../src/engine/data/metric.ts';
import { loadTokenizer } from '../../src/engine/data/tokenizer.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { testGpu } from '../helpers/gpu.ts';

const MODEL = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;
const DATA = new URL('../../public/datasets/kjv-verse-ref.jsonl', import.meta.url).pathname;

describe('completionMatches', () => {
  it('compares whitespace-trimmed text', () => {
    expect(completionMatches(' 23', '23')).toBe(true);
    expect(completionMatches(' 23', '  23  ')).toBe(true);
    expect(completionMatches(' 23', '233')).toBe(false);
    expect(completionMatches('Psalms', 'psalms')).toBe(false);
    expect(completionMatches(' 1 Samuel', ' 1 Samuel')).toBe(true);
  });
  it('cuts the generation at its first newline when the answer is one line', () => {
    expect(completionMatches(' 23', ' 23\nAnd the LORD said')).toBe(true);
    expect(answerOf(' 23', '\n 23\nmore')).toBe('23');
    expect(completionMatches(' 23', ' 2\n3')).toBe(false);
  });
  it('compares several lines when the answer has several', () => {
    expect(completionMatches('a\nb', 'a\nb\n')).toBe(true);
    expect(completionMatches('a\nb', 'a\nc')).toBe(false);
  });
});

describe('exactMatch with tiny-kjv', () => {
  it('generates for each prompt row, skips other rows, honours limit, and scores what it decoded', async () => {
    const gpu = await testGpu();
    const files = nodeModelDir(MODEL);
    const model = await loadModel(gpu, files);
    const tok = await loadTokenizer(files, model.spec.eosTokenIds);
    const { rows } = parseDataset('kjv-verse-ref.jsonl', readFileSync(DATA, 'utf8'));
    const mixed: DatasetRow[] = [{ kind: 'text', text: 'not scored' }, ...rows.slice(0, 4)];
    const progress: number[] = [];
    const r = await exactMatch(model, tok, mixed, { limit: 3, onProgress: (done) => progress.push(done) });
    expect(r.total).toBe(3);
    expect(progress).toEqual([1, 2, 3]);
    expect(r.samples.map((s) => s.prompt)).toEqual(rows.slice(0, 3).map((x) => (x.kind === 'prompt' ? x.prompt : '')));
    expect(r.correct).toBe(r.samples.filter((s) => s.got === s.expected).length);
    expect(r.accuracy).toBe(r.correct / 3);
    // what was scored is what greedy generation gives (same prompt encoding, same decode)
    const first = rows[0];
    if (first.kind !== 'prompt') throw new Error('prompt row expected');
    const out = await model.generate(tok.encode(first.prompt, true), { maxNewTokens: tok.encode(first.completion, false).length + 4, seed: 0 });
    expect(r.samples[0].got).toBe(answerOf(first.completion, tok.decode(out)));
    expect(r.samples[0].expected).toBe(first.completion.trim());
    model.dispose();
  });
});
