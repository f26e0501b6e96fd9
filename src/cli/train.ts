// `train` and `estimate`: a run from flags. Method flags come from the method's schema and
// trainer flags from the trainer's (camelCase field → --kebab-case), so every option the
// studio's forms show is a flag here too.
//   npm run cli -- train --model M --data FILE|builtin:NAME --method NAME [method flags]
//     [--quant f32|q8|q4|nf4] [--steps N] [--seq T] [--batch B] [--seed S] [--out DIR] [--json] …
//   npm run cli -- estimate (the same flags): bytes per ledger category, before any GPU work

import { mkdirSync, readFileSync, writeFileSync, appendFileSync, existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDataset } from '../engine/data/dataset.ts';
import { exactMatch } from '../engine/data/metric.ts';
import { loadTokenizer } from '../engine/data/tokenizer.ts';
import { Gpu } from '../engine/gpu/gpu.ts';
import { fileAutotuneStore, nodeHost } from '../engine/gpu/host-node.ts';
import { tuneKernels } from '../engine/tune.ts';
import { readText } from '../engine/io/model-files.ts';
import { parseModelConfig } from '../engine/model/config.ts';
import { loadModel } from '../engine/model/load.ts';
import { getMethod, listMethods } from '../engine/methods/registry.ts';
import { flagName, type Schema } from '../engine/config/schema.ts';
import { TRAINER_SCHEMA } from '../engine/config/trainer.ts';
import { planRun, prepareData, type RunPlan, type RunRequest } from '../engine/train/plan.ts';
import { memoryFields, saveCheckpoint, train, type TrainEvent } from '../engine/train/trainer.ts';
import { Flags, UsageError } from './args.ts';
import { applyAdapterDir } from './export.ts';
import { loadMethods } from './methods.ts';
import { precisionFlag, progressPrinter } from './common.ts';
import { resolveModel } from './sources.ts';

const DATASETS = resolve(dirname(fileURLToPath(import.meta.url)), '../../public/datasets');

/** Boolean flags of every registered schema (they take no value). */
function booleanFlags(): string[] {
  const all = [TRAINER_SCHEMA as Schema, ...listMethods().map((m) => m.schema)];
  return ['json', 'pack', 'train-on-prompt', ...all.flatMap((s) => Object.entries(s).filter(([, f]) => f.kind === 'boolean').map(([k]) => flagName(k)))];
}

function readSchemaFlags(f: Flags, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, field] of Object.entries(schema)) {
    const v = field.kind === 'boolean' ? (f.bool(flagName(k)) ? true : undefined) : f.optional(flagName(k));
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A dataset file's name and text: a path, or builtin:<name> (public/datasets/<name>.jsonl). */
export function readDataFile(spec: string): { name: string; content: string } {
  if (spec.startsWith('builtin:')) {
    const name = spec.slice(8);
    const file = join(DATASETS, `${name}.jsonl`);
    if (!existsSync(file)) {
      const have = existsSync(DATASETS) ? readdirSync(DATASETS).filter((n) => n.endsWith('.jsonl')).map((n) => n.slice(0, -6)) : [];
      throw new UsageError(`no built-in dataset "${name}" (built-in: ${have.join(', ') || 'none'})`);
    }
    return { name: basename(file), content: readFileSync(file, 'utf8') };
  }
  try {
    return { name: basename(spec), content: readFileSync(spec, 'utf8') };
  } catch (e) {
    throw new UsageError(`--data ${spec}: cannot read it (${e instanceof Error ? e.message : String(e)})`);
  }
}

interface Parsed {
  f: Flags;
  json: boolean;
  modelSpec: string;
  request: RunRequest;
}

function parse(argv: string[]): Parsed {
  const f = new Flags(argv, booleanFlags());
  const methodName = f.string('method');
  const method = getMethod(methodName);
  const request: RunRequest = {
    method: method.name,
    methodConfig: readSchemaFlags(f, method.schema),
    trainer: readSchemaFlags(f, TRAINER_SCHEMA),
    B: f.number('batch', 8, (n) => Number.isInteger(n) && n > 0, 'a positive integer'),
    T: f.number('seq', 64, (n) => Number.isInteger(n) && n > 1, 'an integer > 1'),
    precision: precisionFlag(f),
    seed: f.number('seed', 0, (n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer'),
  };
  return { f, json: f.bool('json'), modelSpec: f.string('model'), request };
}

function estimateLine(plan: RunPlan) {
  const e = plan.estimate;
  return { type: 'estimate', method: plan.method.name, weights: e.weights, adapter: e.adapter, gradients: e.gradients, optimizer: e.optimizer, activations: e.activations, scratch: e.scratch, total: e.total, peak: e.total };
}

function printTable(rows: [string, number][]): void {
  for (const [k, v] of rows) console.log(`${k.padEnd(12)}${(v / 2 ** 20).toFixed(2).padStart(10)} MiB`);
}

export async function estimate(argv: string[]): Promise<void> {
  await loadMethods();
  const { f, json, modelSpec, request } = parse(argv);
  f.optional('data');
  f.optional('out');
  f.finish();
  const files = resolveModel(modelSpec, progressPrinter(json));
  const spec = parseModelConfig(await readText(files, 'config.json'), `${files.name}/config.json`);
  const plan = planRun(spec, request);
  const line = estimateLine(plan);
  if (json) console.log(JSON.stringify(line));
  else printTable([['weights', line.weights], ['adapter', line.adapter], ['gradients', line.gradients], ['optimizer', line.optimizer], ['activations', line.activations], ['scratch', line.scratch], ['total', line.total]]);
}

export async function trainCommand(argv: string[]): Promise<void> {
  await loadMethods();
  const { f, json, modelSpec, request } = parse(argv);
  const dataSpec = f.string('data');
  const outDir = f.optional('out');
  const evalFraction = f.number('eval-fraction', 0.1, (n) => n >= 0 && n < 1, 'a number in [0, 1)');
  const metricRows = f.number('metric-rows', 32, (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0');
  const pack = f.bool('pack');
  const trainOnPrompt = f.bool('train-on-prompt');
  const adapterDir = f.optional('adapter');
  f.finish();
  const say = (o: Record<string, unknown>, text: string) => (json ? console.log(JSON.stringify(o)) : console.log(text));

  // Everything that can fail on bad input fails here, before the GPU is touched.
  const { name: dataName, content } = readDataFile(dataSpec);
  const parsed = parseDataset(dataName, content);
  for (const e of parsed.errors) {
    if (json) console.log(JSON.stringify({ type: 'row-error', file: dataName, ...e }));
    else process.stderr.write(`${dataName}:${e.line}: ${e.message} (skipped)\n`);
  }
  const files = resolveModel(modelSpec, progressPrinter(json));
  const spec = parseModelConfig(await readText(files, 'config.json'), `${files.name}/config.json`);
  const plan = planRun(spec, request);
  const tokenizer = await loadTokenizer(files, spec.eosTokenIds);
  const data = prepareData(parsed.rows, tokenizer, { B: request.B, T: request.T, evalFraction, seed: request.seed, maskPrompt: !trainOnPrompt, pack });
  if (!json) console.log(`${plan.method.name} on ${files.name} (${request.precision}): ${data.train.length} train / ${data.eval.length} eval batches of ${request.B}×${request.T}; estimated peak ${(plan.estimate.total / 2 ** 20).toFixed(2)} MiB`);

  const gpu = await Gpu.create(nodeHost());
  try {
    const chosen = await tuneKernels(gpu, fileAutotuneStore());
    if (json) console.log(JSON.stringify({ type: 'autotune', ...chosen }));
    planRun(spec, request, { maxBufferSize: gpu.adapter.limits.maxBufferSize, maxStorageBufferBindingSize: gpu.adapter.limits.maxStorageBufferBindingSize });
    const model = await loadModel(gpu, files, { precision: request.precision });
    gpu.ledger.resetPeak();
    // --adapter DIR: continue training a PEFT adapter (its rank, alpha and targets come from it).
    const state = adapterDir
      ? await applyAdapterDir(model, adapterDir, request.precision, plan.trainer, plan.method.name)
      : await plan.method.attach(model, plan.config, { seed: request.seed, trainer: plan.trainer, shape: plan.shape, baseModel: modelSpec, firstBatch: data.train[0] });
    if (adapterDir && !json) console.log(`continuing the adapter in ${adapterDir} (${state.trainableParams} trainable values)`);
    if (outDir) {
      mkdirSync(outDir, { recursive: true });
      const dataSettings = { evalFraction, pack, trainOnPrompt, metricRows, ...(adapterDir ? { startedFrom: adapterDir } : {}) };
      writeFileSync(join(outDir, 'run.json'), JSON.stringify({ model: modelSpec, data: dataSpec, ...request, methodConfig: plan.config, trainer: plan.trainer, dataSettings, estimate: plan.estimate }, null, 2) + '\n');
      writeFileSync(join(outDir, 'metrics.jsonl'), '');
    }
    const metric = data.evalPrompts.length && metricRows > 0
      ? async () => (await exactMatch(model, tokenizer, data.evalPrompts, { limit: metricRows })).accuracy
      : undefined;
    const onEvent = (e: TrainEvent) => {
      if (outDir) appendFileSync(join(outDir, 'metrics.jsonl'), JSON.stringify(e) + '\n');
      if (e.type === 'step') say(e, `step ${String(e.step).padStart(5)}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.tokensPerSec.toFixed(0)} tok/s  ${(e.memory.total / 2 ** 20).toFixed(2)} MiB`);
      else if (e.type === 'eval') say(e, `eval  step ${e.step}  loss ${e.loss.toFixed(4)}${e.metric === undefined ? '' : `  exact match ${(100 * e.metric).toFixed(1)} %`}`);
    };
    const summary = await train({ model, state, trainer: plan.trainer, train: data.train, eval: data.eval, metric, onEvent });
    if (outDir) {
      for (const file of await state.exportFiles()) writeFileSync(join(outDir, file.name), file.bytes);
      writeFileSync(join(outDir, 'checkpoint.safetensors'), await saveCheckpoint(state, summary.steps, { method: plan.method.name }));
    }
    const done = {
      type: 'done', steps: summary.steps, finalLoss: summary.finalLoss, evalLoss: summary.evalLoss ?? null, metric: summary.metric ?? null,
      peakBytes: summary.peakBytes, estimatedBytes: plan.estimate.total, trainableParams: summary.trainableParams, outDir: outDir ?? null,
      memory: memoryFields(gpu.ledger.snapshot()),
    };
    say(done, `done: ${summary.steps} steps, loss ${summary.finalLoss.toFixed(4)}${summary.evalLoss === undefined ? '' : `, eval ${summary.evalLoss.toFixed(4)}`}, peak ${(summary.peakBytes / 2 ** 20).toFixed(2)} MiB (estimated ${(plan.estimate.total / 2 ** 20).toFixed(2)}), ${summary.trainableParams} trainable${outDir ? `, written to ${outDir}` : ''}`);
    state.dispose();
    model.dispose();
  } finally {
    gpu.destroy();
  }
}

export async function methodsCommand(json: boolean): Promise<void> {
  await loadMethods();
  for (const m of listMethods()) {
    if (json) {
      console.log(JSON.stringify({ type: 'method', name: m.name, family: m.family, title: m.title, help: m.help, flags: Object.fromEntries(Object.entries(m.schema).map(([k, v]) => [flagName(k), v])) }));
      continue;
    }
    console.log(`${m.name} (${m.family}): ${m.title}`);
    for (const [k, v] of Object.entries(m.schema)) console.log(`  --${flagName(k).padEnd(16)} ${v.kind === 'list' ? v.default.join(',') || '(default)' : String(v.default)}  ${v.help}`);
  }
}
