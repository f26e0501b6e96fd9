// Each method's fitToBase (the method contract): on every base precision, a method's
// defaults either fit as they are, or fitToBase gives settings that pass the method's own
// check and planRun, with a note; MeZO on a quantized base becomes ZO-LoRA. No GPU work.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { getMethod, methodNames } from '../../src/engine/methods/registry.ts';
import { defaults } from '../../src/engine/config/schema.ts';
import type { RunShape } from '../../src/engine/methods/types.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';
import type { BasePrecision } from '../../src/engine/model/decoder.ts';
import { planRun } from '../../src/engine/train/plan.ts';

const spec = parseModelConfig(readFileSync(new URL('../../public/models/tiny-kjv/config.json', import.meta.url), 'utf8'));
const PRECISIONS: BasePrecision[] = ['f32', 'q8', 'q4', 'nf4'];

describe('fitToBase', () => {
  it('MeZO (all weights) on a quantized base becomes ZO-LoRA, and plans', () => {
    const m = getMethod('mezo');
    const cfg = defaults(m.schema);
    expect(cfg.trainable).toBe('all');
    const shape: RunShape = { B: 2, T: 16, precision: 'nf4' };
    expect(() => planRun(spec, { method: 'mezo', methodConfig: cfg, trainer: {}, B: 2, T: 16, precision: 'nf4', seed: 0 })).toThrow();
    const fit = m.fitToBase?.(spec, cfg, shape);
    expect(fit?.config.trainable).toBe('lora');
    expect(fit?.note).toMatch(/ZO-LoRA/);
    expect(() => planRun(spec, { method: 'mezo', methodConfig: fit?.config ?? {}, trainer: {}, B: 2, T: 16, precision: 'nf4', seed: 0 })).not.toThrow();
    expect(m.fitToBase?.(spec, cfg, { ...shape, precision: 'f32' })).toBeUndefined();
  });

  for (const name of methodNames()) {
    it(`${name}: what fitToBase gives passes the method's check on every precision`, () => {
      const m = getMethod(name);
      for (const precision of PRECISIONS) {
        const shape: RunShape = { B: 2, T: 16, precision };
        const cfg = defaults(m.schema);
        const fit = m.fitToBase?.(spec, cfg, shape);
        if (!fit) continue;
        expect(fit.note.length).toBeGreaterThan(0);
        expect(() => m.check(spec, fit.config, shape)).not.toThrow();
      }
    });
  }
});
