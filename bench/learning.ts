// npm run bench:learning [-- --steps 40] [-- --only lora,mezo,qlora-8]
// Each method fine-tunes the built-in model (tiny-kjv) on the kjv-verse-ref sample dataset
// with the same data, shape and seed: held-out loss before and after, the exact-match metric
// after, trainable values, peak memory from the ledger and wall time. Prints a table and
// writes bench/results/learning.json. Settings per method are the ones a user would start
// from: the presets each method's folder marks for the comparison (MethodPreset.compare).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDataset } from '../src/engine/data/dataset.ts';
import { exactMatch } from '../src/engine/data/metric.ts';
import { loadTokenizer } from '../src/engine/data/tokenizer.ts';
import { Gpu } from '../src/engine/gpu/gpu.ts';
import { nodeHost } from '../src/engine/gpu/host-node.ts';
import { nodeModelDir } from '../src/engine/io/node-dir.ts';
import type { BasePrecision } from '../src/engine/model/decoder.ts';
import { loadModel } from '../src/engine/model/load.ts';
import { loadMethods } from '../src/cli/methods.ts';
import { listPresets } from '../src/engine/methods/registry.ts';
import { planRun, prepareData } from '../src/engine/train/plan.ts';
import { evalLoss, train } from '../src/engine/train/trainer.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const STEPS = Number(flag('steps') ?? 40);
const only = flag('only')?.split(',');

/** The comparison's rows: every registered method's presets that say they belong in it
 *  (MethodPreset.compare), with the base precision and trainer settings they run with. */
export function learningRuns(): { label: string; id: string; method: string; precision: BasePrecision; cfg: Record<string, unknown>; trainer: Record<string, unknown> }[] {
  return listPresets().flatMap(({ method, preset }) =>
    preset.compare
      ? [{ label: preset.title, id: preset.id, method: method.name, precision: preset.compare.precision ?? preset.precisions?.[0] ?? 'f32', cfg: preset.config, trainer: { ...preset.compare.trainer } }]
      : [],
  );
}

async function main(): Promise<void> {
  await loadMethods();
  const gpu = await Gpu.create(nodeHost());
  const files = nodeModelDir(join(ROOT, 'public/models/tiny-kjv'));
  const rows = parseDataset('kjv-verse-ref.jsonl', readFileSync(join(ROOT, 'public/datasets/kjv-verse-ref.jsonl'), 'utf8')).rows;
  const results = [];
  for (const r of learningRuns().filter((x) => !only || only.includes(x.method) || only.includes(x.id) || only.includes(x.label))) {
    const model = await loadModel(gpu, files, { precision: r.precision });
    const tok = await loadTokenizer(files, model.spec.eosTokenIds);
    const [B, T] = [8, 24];
    const plan = planRun(model.spec, { method: r.method, methodConfig: r.cfg, trainer: { ...r.trainer, steps: STEPS }, B, T, precision: r.precision, seed: 1 });
    const data = prepareData(rows, tok, { B, T, evalFraction: 0.2, seed: 1, maskPrompt: true, pack: false });
    const before = await evalLoss(model, data.eval);
    gpu.ledger.resetPeak();
    const state = await plan.method.attach(model, plan.config, { seed: 1, trainer: plan.trainer, shape: plan.shape, firstBatch: data.train[0] });
    const s = await train({ model, state, trainer: plan.trainer, train: data.train });
    const after = await evalLoss(model, data.eval);
    const em = await exactMatch(model, tok, data.evalPrompts, { limit: 48 });
    results.push({
      label: r.label, method: r.method, precision: r.precision, steps: s.steps, evalBefore: before, evalAfter: after, exactMatch: em.accuracy,
      trainableParams: s.trainableParams, peakBytes: s.peakBytes, estimatedBytes: plan.estimate.total, wallMs: s.wallMs,
    });
    const x = results.at(-1);
    if (x) console.error(`${x.label}: eval ${x.evalBefore.toFixed(3)} → ${x.evalAfter.toFixed(3)}`);
    state.dispose();
    model.dispose();
  }
  const pad = (v: string, n: number) => v.padEnd(n);
  console.log(`${pad('method', 28)}${pad('base', 6)}${pad('steps', 7)}${pad('eval before', 13)}${pad('eval after', 12)}${pad('exact', 8)}${pad('trained', 10)}${pad('peak MiB', 10)}s`);
  for (const x of results) {
    console.log(`${pad(x.label, 28)}${pad(x.precision, 6)}${pad(String(x.steps), 7)}${pad(x.evalBefore.toFixed(3), 13)}${pad(x.evalAfter.toFixed(3), 12)}${pad(`${(100 * x.exactMatch).toFixed(0)} %`, 8)}${pad(String(x.trainableParams), 10)}${pad((x.peakBytes / 2 ** 20).toFixed(2), 10)}${(x.wallMs / 1000).toFixed(1)}`);
  }
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/learning.json'), JSON.stringify({ steps: STEPS, B: 8, T: 24, model: 'tiny-kjv', dataset: 'kjv-verse-ref', results }, null, 2) + '\n');
  gpu.destroy();
}

await main();
