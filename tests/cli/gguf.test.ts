// The GGUF loop as a user runs it from the CLI: a GGUF model file as --model (train,
// generate), then `export --format gguf` (an adapter for that same file, with an Ollama
// Modelfile) and `--format gguf-merged`; the real llama.cpp on base.gguf + adapter.gguf
// and on the merged GGUF generates what webtune generates.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeMergedGguf } from '../../src/engine/export/merged-gguf.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { cli, lines } from '../helpers/cli.ts';
import { HAVE_STORIES, STORIES, memoryOut } from '../helpers/gguf-models.ts';
import { llamaCpp } from '../helpers/llama-cpp.ts';

const TMP = mkdtempSync(join(tmpdir(), 'webtune-cli-gguf-'));
const BASE = join(TMP, 'stories260K.gguf');
const RUN = join(TMP, 'run');
const N = 12;
let withAdapter: Promise<{ ids: number[] }> | undefined; // webtune: --model BASE --adapter RUN, asked once

/** webtune's greedy ids from the CLI (prompt "Once upon a time"). */
async function webtuneIds(...args: string[]): Promise<{ ids: number[] }> {
  const r = await cli('generate', '--prompt', 'Once upon a time', '--max-tokens', String(N), '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return { ids: lines(r.stdout).filter((o) => o.type === 'token').map((o) => Number(o.id)) };
}

describe.runIf(HAVE_STORIES)('CLI on a GGUF model file', () => {
  beforeAll(async () => {
    const out = await memoryOut();
    await writeMergedGguf(nodeModelDir(STORIES), [], out, { type: 'F32' });
    writeFileSync(BASE, out.bytes());
    writeFileSync(join(TMP, 'data.txt'), 'Once upon a time, there was a little dog named Max. Max liked to run in the park with his friend Tim.\n'.repeat(8));
    const t = await cli('train', '--model', BASE, '--data', join(TMP, 'data.txt'), '--seq', '24', '--batch', '2', '--seed', '5',
      '--method', 'lora', '--rank', '4', '--alpha', '8', '--steps', '4', '--lr', '0.05', '--metric-rows', '0', '--out', RUN, '--json');
    expect(t.code, t.stderr).toBe(0);
  }, 240_000);

  it('--format gguf: llama.cpp on the same base.gguf + adapter.gguf generates what webtune generates; the Modelfile names both', async () => {
    const e = await cli('export', '--run', RUN, '--format', 'gguf', '--out', join(TMP, 'adapter'), '--json');
    expect(e.code, e.stderr).toBe(0);
    const mf = readFileSync(join(TMP, 'adapter', 'Modelfile'), 'utf8');
    expect(mf).toContain(`FROM ${BASE}`);
    expect(mf).toContain('ADAPTER ./adapter.gguf');
    expect(mf).toContain('PARAMETER stop "</s>"');
    const ours = await (withAdapter ??= webtuneIds('--model', BASE, '--adapter', RUN));
    const plain = await webtuneIds('--model', BASE);
    expect(ours.ids).not.toEqual(plain.ids); // the adapter changed the model
    const cpp = await llamaCpp();
    const prompt = await cpp.tokenize(BASE, 'Once upon a time');
    const theirs = await cpp.greedy(BASE, [1, ...prompt], ours.ids.length, { lora: join(TMP, 'adapter', 'adapter.gguf') });
    expect(theirs.tokens).toEqual(ours.ids);
    await cpp.unload(BASE);
  }, 240_000);

  it('--format gguf-merged: llama.cpp on model.gguf generates what webtune generates with the adapter', async () => {
    const e = await cli('export', '--run', RUN, '--format', 'gguf-merged', '--gguf-type', 'f32', '--out', join(TMP, 'merged'), '--json');
    expect(e.code, e.stderr).toBe(0);
    expect(lines(e.stdout).find((o) => o.type === 'export')).toMatchObject({ arch: 'llama', ggufType: 'f32' });
    expect(readFileSync(join(TMP, 'merged', 'Modelfile'), 'utf8')).toMatch(/^FROM \.\/model\.gguf$/m);
    const ours = await (withAdapter ??= webtuneIds('--model', BASE, '--adapter', RUN));
    const merged = join(TMP, 'merged', 'model.gguf');
    const cpp = await llamaCpp();
    const prompt = await cpp.tokenize(merged, 'Once upon a time');
    const theirs = await cpp.greedy(merged, [1, ...prompt], ours.ids.length);
    expect(theirs.tokens).toEqual(ours.ids);
    await cpp.unload(merged);
  }, 240_000);
});
