// Learning on real data: every method lowers the held-out loss of the built-in model
// (tiny-kjv) on the kjv-verse-ref sample in a bounded number of steps. (The longer curves
// of each method are bench/learning.ts's; this is the short version CI runs.)

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { parseDataset } from '../../src/engine/data/dataset.ts';
import { loadTokenizer } from '../../src/engine/data/tokenizer.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import type { BasePrecision } from '../../src/engine/model/decoder.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { planRun, prepareData } from '../../src/engine/train/plan.ts';
import { evalLoss, train } from '../../src/engine/train/trainer.ts';
import { testGpu } from '../helpers/gpu.ts';

const MODEL = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;
const DATA = new URL('../../public/datasets/kjv-verse-ref.jsonl', import.meta.url).pathname;

// [label, method, base, config, trainer, steps, eval after must be below this × before]
const RUNS: [string, string, BasePrecision, Record<string, unknown>, Record<string, unknown>, number, number][] = [
  ['full', 'full', 'f32', {}, { lr: 3e-3 }, 8, 0.7],
  ['lora', 'lora', 'f32', { rank: 8, targets: 'all-linear' }, { lr: 1e-2 }, 8, 0.8],
  ['qlora (q4)', 'lora', 'q4', { rank: 8, targets: 'all-linear' }, { lr: 1e-2 }, 8, 0.8],
  ['dora', 'lora', 'f32', { rank: 8, targets: 'all-linear', dora: true }, { lr: 1e-2 }, 8, 0.8],
  ['shira 5 %', 'shira', 'f32', { fraction: 0.05 }, { lr: 1e-2 }, 8, 0.8],
  ['mezo', 'mezo', 'f32', { samples: 4 }, { lr: 3e-4 }, 10, 0.97],
  ['mezo ZO-LoRA (q8)', 'mezo', 'q8', { trainable: 'lora', rank: 8, targets: 'all-linear', samples: 4 }, { lr: 3e-3 }, 10, 0.99],
  ['sparse-mezo', 'sparse-mezo', 'f32', { samples: 4 }, { lr: 1e-3 }, 10, 0.99],
  ['qzo (q4)', 'qzo', 'q4', { samples: 4 }, {}, 10, 0.995],
];

describe('learning on the built-in model and a sample dataset', () => {
  const rows = parseDataset('kjv-verse-ref.jsonl', readFileSync(DATA, 'utf8')).rows;
  for (const [label, method, precision, cfg, trainer, steps, ratio] of RUNS) {
    it(`${label}: held-out loss falls below ${ratio}× its start in ${steps} steps`, async () => {
      const gpu = await testGpu();
      const files = nodeModelDir(MODEL);
      const model = await loadModel(gpu, files, { precision });
      const tok = await loadTokenizer(files, model.spec.eosTokenIds);
      const [B, T] = [4, 24];
      const plan = planRun(model.spec, { method, methodConfig: cfg, trainer: { ...trainer, steps }, B, T, precision, seed: 1 });
      const data = prepareData(rows, tok, { B, T, evalFraction: 0.1, seed: 1, maskPrompt: true, pack: false });
      const held = data.eval.slice(0, 3);
      const before = await evalLoss(model, held);
      const state = await plan.method.attach(model, plan.config, { seed: 1, trainer: plan.trainer, shape: plan.shape, firstBatch: data.train[0] });
      await train({ model, state, trainer: plan.trainer, train: data.train });
      const after = await evalLoss(model, held);
      expect(after, `${label}: ${before.toFixed(3)} → ${after.toFixed(3)}`).toBeLessThan(ratio * before);
      state.dispose();
      model.dispose();
    });
  }
});
