// The rank tools and the "continue at scale" recipe from the CLI, on real runs of the
// built-in model: squeeze a LoRA run (and train the result on with --adapter), turn a SHiRA
// run into a LoRA that --adapter loads,
// and write an Axolotl + TRL recipe that names the run's hyperparameters.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, lines } from '../helpers/cli.ts';

const TMP = mkdtempSync(join(tmpdir(), 'webtune-tools-'));
const BASE = ['--model', 'builtin:tiny-kjv', '--data', 'builtin:kjv-verse-ref', '--seq', '24', '--batch', '4', '--seed', '5', '--steps', '2', '--metric-rows', '0'];

describe('CLI export: squeeze, any adapter to LoRA, recipe', () => {
  it('a rank-8 LoRA squeezes to rank 2 with its energy reported; the recipe names its hyperparameters', async () => {
    const dir = join(TMP, 'lora');
    const t = await cli('train', ...BASE, '--method', 'lora', '--rank', '8', '--alpha', '16', '--lr', '0.02', '--schedule', 'cosine', '--warmup', '1', '--out', dir, '--json');
    expect(t.code, t.stderr).toBe(0);
    const sq = await cli('export', '--run', dir, '--format', 'squeeze', '--rank', '2', '--out', join(TMP, 'sq'), '--json');
    expect(sq.code, sq.stderr).toBe(0);
    const e = lines(sq.stdout).find((l) => l.type === 'export');
    expect(Number(e?.energy)).toBeGreaterThan(0);
    expect(Number(e?.energy)).toBeLessThanOrEqual(1);
    expect(JSON.parse(readFileSync(join(TMP, 'sq', 'adapter_config.json'), 'utf8')).r).toBe(2);
    // The squeezed adapter trains on (train --adapter), at its own rank.
    const more = await cli('train', ...BASE, '--method', 'lora', '--adapter', join(TMP, 'sq'), '--lr', '0.01', '--json');
    expect(more.code, more.stderr).toBe(0);
    expect(lines(more.stdout).find((l) => l.type === 'done')?.trainableParams).toBe(2 * 4 * ((96 + 96) + (96 + 48)));
    const wrong = await cli('train', ...BASE, '--method', 'shira', '--adapter', join(TMP, 'sq'));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/continue it with --method lora/);
    const rc = await cli('export', '--run', dir, '--format', 'recipe', '--out', join(TMP, 'recipe'));
    expect(rc.code, rc.stderr).toBe(0);
    const yaml = readFileSync(join(TMP, 'recipe', 'axolotl.yaml'), 'utf8');
    for (const v of [/lora_r: 8/, /lora_alpha: 16/, /learning_rate: 0\.02/, /lr_scheduler: "?cosine/, /warmup_steps: 1/, /sequence_len: 24/, /micro_batch_size: 4/, /seed: 5/]) expect(yaml).toMatch(v);
    expect(readFileSync(join(TMP, 'recipe', 'train_trl.py'), 'utf8')).toMatch(/SFTTrainer/);
    expect(existsSync(join(TMP, 'recipe', 'adapter', 'adapter_model.safetensors'))).toBe(true);
  });

  it('a SHiRA run becomes a rank-4 LoRA that --adapter loads; a missing --rank is a usage error', async () => {
    const dir = join(TMP, 'shira');
    const t = await cli('train', ...BASE, '--method', 'shira', '--fraction', '0.02', '--lr', '0.01', '--out', dir);
    expect(t.code, t.stderr).toBe(0);
    const bad = await cli('export', '--run', dir, '--format', 'lora', '--out', join(TMP, 'x'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/needs --rank/);
    const conv = await cli('export', '--run', dir, '--format', 'lora', '--rank', '4', '--out', join(TMP, 'as-lora'), '--json');
    expect(conv.code, conv.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(TMP, 'as-lora', 'adapter_config.json'), 'utf8'))).toMatchObject({ peft_type: 'LORA', r: 4 });
    const ev = await cli('eval', '--model', 'builtin:tiny-kjv', '--adapter', join(TMP, 'as-lora'), '--data', 'builtin:kjv-verse-ref', '--seq', '24', '--batch', '32', '--json');
    expect(ev.code, ev.stderr).toBe(0);
    expect(Number(lines(ev.stdout).find((l) => l.type === 'eval')?.loss)).toBeGreaterThan(0);
  });
});
