// The CLI as a user runs it (npm run cli -- …), on model folders another tool made (the
// PyTorch fixtures) and on stories260K.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../src/engine/data/tokenizer.ts';
import { cli, cliWithEnv, lines, ROOT } from '../helpers/cli.ts';
import { itStories, STORIES } from '../helpers/shared.ts';


describe('CLI', () => {
  itStories('generate --json streams tokens and reproduces stories260K greedy text', async () => {
    const r = await cli('generate', '--model', STORIES, '--prompt', 'Once upon a time', '--max-tokens', '12', '--json');
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.filter((o) => o.type === 'token').length).toBe(12);
    const done = out.find((o) => o.type === 'done');
    expect(String(done?.text)).toMatch(/^, there was a little girl named Lily/);
  });

  it('eval --json reports loss and perplexity, skipping unreadable rows by line number', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtune-cli-'));
    const data = join(dir, 'd.jsonl');
    writeFileSync(data, '{"text": "w5 w9 w12 w7"}\n{oops\n{"text": "w30 w31 w3 w4 w5"}\n');
    const r = await cli('eval', '--model', join(ROOT, 'tests/fixtures/models/qwen2-bias'), '--data', data, '--seq', '8', '--json');
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.find((o) => o.type === 'row-error')).toMatchObject({ line: 2 });
    const ev = out.find((o) => o.type === 'eval');
    expect(Number(ev?.loss)).toBeGreaterThan(0);
    expect(Number(ev?.perplexity)).toBeCloseTo(Math.exp(Number(ev?.loss)), 6);
    expect(ev?.tokens).toBe(9); // 4 + EOS + 5 tokens in one window: 9 targets (WordLevel adds no BOS)
  });

  it('the built-in model generates from the CLI and scores King James text far better than chance', async () => {
    const r = await cli('generate', '--model', 'builtin:tiny-kjv', '--prompt', 'And God said', '--max-tokens', '16', '--json');
    expect(r.code).toBe(0);
    const text = String(lines(r.stdout).find((o) => o.type === 'done')?.text);
    expect(text.split(/\W+/).filter(Boolean).length).toBeGreaterThan(3);
    // The text is decoded over the whole sequence: the token events' texts join to it (word
    // starts keep their spaces), and it is what prompt + continuation decode to past the prompt.
    const tokens = lines(r.stdout).filter((o) => o.type === 'token');
    expect(tokens.map((o) => o.text).join('')).toBe(text);
    const kjv = join(ROOT, 'public/models/tiny-kjv');
    const tok = TextTokenizer.load(readFileSync(join(kjv, 'tokenizer.json'), 'utf8'), readFileSync(join(kjv, 'tokenizer_config.json'), 'utf8'));
    const prompt = tok.encode('And God said');
    const all = tok.decode([...prompt, ...tokens.map((o) => Number(o.id))]);
    expect(text).toBe(all.slice(tok.decode(prompt).length));
    expect(text.split(' ').length).toBeGreaterThan(3);
    const dir = mkdtempSync(join(tmpdir(), 'webtune-cli-'));
    const data = join(dir, 'john.txt');
    writeFileSync(data, 'In the beginning was the Word, and the Word was with God, and the Word was God. The same was in the beginning with God. All things were made by him; and without him was not any thing made that was made.');
    const e = await cli('eval', '--model', 'builtin:tiny-kjv', '--data', data, '--json');
    expect(e.code).toBe(0);
    const ev = lines(e.stdout).find((o) => o.type === 'eval');
    expect(Number(ev?.loss)).toBeLessThan(0.6 * Math.log(512)); // uniform guessing over 512 tokens: 6.24 nats
  });

  it('a process without XDG_RUNTIME_DIR gets a private one: no Vulkan loader error on stderr', async () => {
    const env = { ...process.env };
    delete env.XDG_RUNTIME_DIR;
    const r = await cliWithEnv(env, 'info', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/XDG_RUNTIME_DIR/);
    expect(lines(r.stdout).find((o) => o.type === 'info')).toBeDefined();
  });

  it('bad flags exit with 2 and say what was expected', async () => {
    const r = await cli('generate', '--model', 'builtin:tiny-kjv', '--prompt', 'x', '--temperature', 'hot');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--temperature should be a number >= 0, got "hot"/);
    const u = await cli('generate', '--model', 'builtin:nope', '--prompt', 'x');
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/no built-in model "nope"/);
  });
});
