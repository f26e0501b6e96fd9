// `train`, `estimate` and `methods` as a user runs them: JSON lines with the fields the
// issue fixes, a run directory, the estimate beside the measured peak, and bad input
// refused with exit code 2 before any GPU work.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, lines } from '../helpers/cli.ts';

const MEMORY_KEYS = ['weights', 'adapter', 'gradients', 'optimizer', 'activations', 'scratch', 'total', 'peak'];
const BASE = ['--model', 'builtin:tiny-kjv', '--data', 'builtin:kjv-verse-ref', '--seq', '24', '--batch', '4', '--seed', '3'];

describe('CLI train / estimate', () => {
  it('train --json: step, eval and done lines; the run directory; estimate within 5 % of the peak', async () => {
    const out = mkdtempSync(join(tmpdir(), 'webtune-train-'));
    const [t, e] = [
      await cli('train', ...BASE, '--method', 'lora', '--rank', '4', '--targets', 'q_proj,v_proj', '--steps', '3', '--eval-every', '2', '--metric-rows', '2', '--out', out, '--json'),
      await cli('estimate', ...BASE, '--method', 'lora', '--rank', '4', '--targets', 'q_proj,v_proj', '--json'),
    ];
    expect(t.code, t.stderr).toBe(0);
    const o = lines(t.stdout);
    const steps = o.filter((l) => l.type === 'step');
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
    for (const s of steps) {
      expect(Number.isFinite(s.loss) && Number(s.lr) > 0 && Number(s.tokensPerSec) > 0).toBe(true);
      expect(Object.keys(s.memory as object).sort()).toEqual([...MEMORY_KEYS].sort());
    }
    const evals = o.filter((l) => l.type === 'eval');
    expect(evals.map((v) => v.step)).toEqual([2, 3]);
    expect(evals.every((v) => Number(v.loss) > 0 && typeof v.metric === 'number')).toBe(true);
    const done = o.find((l) => l.type === 'done');
    expect(done).toMatchObject({ steps: 3, outDir: out });
    for (const k of ['finalLoss', 'evalLoss', 'peakBytes', 'trainableParams']) expect(typeof done?.[k], k).toBe('number');
    expect(done?.trainableParams).toBe(4 * (4 * (96 + 96) + 4 * (96 + 48))); // rank 4 on q (96→96) and v (96→48), 4 layers
    for (const f of ['run.json', 'metrics.jsonl', 'adapter_model.safetensors', 'adapter_config.json', 'checkpoint.safetensors']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBe(5);
    expect(e.code, e.stderr).toBe(0);
    const est = lines(e.stdout);
    expect(est).toHaveLength(1);
    for (const k of MEMORY_KEYS) expect(typeof est[0][k], k).toBe('number');
    expect(Math.abs(Number(est[0].total) - Number(done?.peakBytes)) / Number(done?.peakBytes)).toBeLessThanOrEqual(0.05);
  });

  it('eval --json reports the peak bytes of its forward-only pass', async () => {
    const r = await cli('eval', '--model', 'builtin:tiny-kjv', '--data', 'builtin:kjv-verse-ref', '--seq', '24', '--batch', '16', '--json');
    expect(r.code, r.stderr).toBe(0);
    const ev = lines(r.stdout).find((l) => l.type === 'eval');
    expect(Number(ev?.peakBytes)).toBeGreaterThan(0);
    expect(Number(ev?.tokens)).toBeGreaterThan(480); // completions (+ EOS) of all 480 prompt rows
  });

  it('bad input exits with 2 and a message naming the flag, before any GPU work', async () => {
    const cases: [string[], RegExp][] = [
      [['--method', 'nope'], /unknown method "nope" \(methods: .*lora.*mezo/],
      [['--method', 'lora', '--bogus', '1'], /unknown flag: --bogus/],
      [['--method', 'lora', '--rank', '500'], /--rank 500 is larger than .* \(at most 96\)/],
      [['--method', 'lora', '--targets', 'c_attn'], /no module "c_attn"/],
      [['--method', 'shira', '--fraction', '0'], /--fraction should be a number > 0 ≤ 1/],
      [['--method', 'mezo', '--eps', '-1'], /--eps should be a number > 0/],
      [['--method', 'full', '--quant', 'q4'], /needs an f32 base/],
    ];
    for (const [flags, msg] of cases) {
      const r = await cli('estimate', ...BASE, ...flags);
      expect(r.code, `${flags.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    const big = await cli('train', '--model', 'builtin:tiny-kjv', '--data', 'builtin:kjv-verse-ref', '--method', 'lora', '--batch', '60000', '--seq', '256', '--steps', '1');
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/more than this device binds at once .* lower --batch or --seq/);
  });
});
