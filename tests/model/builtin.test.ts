// The built-in model (public/models/tiny-kjv) through the engine reproduces the greedy
// sample that PyTorch wrote into its CARD.md when scripts/pretrain-builtin.py trained it:
// the same weights, the same tokenizer, the same text.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/engine/data/tokenizer.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { testGpu } from '../helpers/gpu.ts';

const DIR = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;

describe('built-in model tiny-kjv', () => {
  it('continues "And God said" exactly as PyTorch did (greedy, 40 tokens)', async () => {
    const card = readFileSync(`${DIR}/CARD.md`, 'utf8');
    const m = card.match(/\*\*Greedy sample\*\* from "(.*?)": (.*)/);
    if (!m) throw new Error('CARD.md has no greedy sample line');
    const [, prompt, sample] = m;
    const gpu = await testGpu();
    const files = nodeModelDir(DIR);
    const model = await loadModel(gpu, files);
    const tok = await loadTokenizer(files, model.spec.eosTokenIds);
    const out = await model.generate(tok.encode(prompt), { maxNewTokens: 40 });
    expect(tok.decode([...tok.encode(prompt).slice(1), ...out])).toBe(sample.trim());
    model.dispose();
  });
});
