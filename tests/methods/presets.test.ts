// Presets are part of the method contract (MethodDef.presets): each method's folder says
// where a user starts and which settings the learning comparison runs. Every registered
// method offers at least one preset and one comparison row, and every preset plans on the
// built-in model at the precision it is meant for (its config passes the schema and the
// method's check). No GPU work.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { listMethods, listPresets } from '../../src/engine/methods/registry.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';
import { planRun } from '../../src/engine/train/plan.ts';

const spec = parseModelConfig(readFileSync(new URL('../../public/models/tiny-kjv/config.json', import.meta.url), 'utf8'));

describe('method presets', () => {
  it('every method offers a preset, and one in the learning comparison', () => {
    for (const m of listMethods()) {
      expect(m.presets?.length ?? 0, `${m.name}: no preset`).toBeGreaterThan(0);
      expect(m.presets?.some((p) => p.compare) ?? false, `${m.name}: no preset in the comparison (MethodPreset.compare)`).toBe(true);
    }
  });

  it('preset ids are unique across methods', () => {
    const ids = listPresets().map((x) => x.preset.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  for (const { method, preset } of listPresets()) {
    it(`${method.name} / ${preset.id}: plans on tiny-kjv at ${preset.compare?.precision ?? preset.precisions?.[0] ?? 'f32'}`, () => {
      const precision = preset.compare?.precision ?? preset.precisions?.[0] ?? 'f32';
      const plan = planRun(spec, { method: method.name, methodConfig: preset.config, trainer: { ...preset.compare?.trainer }, B: 2, T: 16, precision, seed: 0 });
      expect(plan.estimate.total).toBeGreaterThan(0);
    });
  }
});
