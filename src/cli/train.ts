// `train` and `estimate`: a run from flags. Method flags come from the method's schema and
// trainer flags from the trainer's (camelCase field → --kebab-case), so every option the
// studio's forms show is a flag here too.
//   npm run cli -- train --model M --data FILE|builtin:NAME --method NAME [method flags]
//     [--quant f32|q8|q4|nf4] [--steps N] [--seq T] [--batch B] [--seed S] [--out DIR] [--json] …
//   npm run cli -- estimate (the same flags): bytes per ledger category, before any GPU work

import { createHash } from 'node:crypto';
import { readFileSync, appendFileSync, existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDataset } from '../engine/data/dataset.ts';
import { exactMatch } from '../engine/data/metric.ts';
import { loadTokenizer } from '../engine/data/tokenizer.ts';
import { Gpu } from '../engine/gpu/gpu.ts';
import { fileAutotuneStore, nodeHost } from '../engine/gpu/host-node.ts';
import { tuneKernels } from '../engine/tune.ts';
import { readText } from '../engine/io/model-files.ts';
import { nodeFileSource } from '../engine/io/node-file.ts';
import { SafetensorsFile } from '../engine/io/safetensors.ts';
import { parseModelConfig } from '../engine/model/config.ts';
import { loadModel } from '../engine/model/load.ts';
import { getMethod, listMethods } from '../engine/methods/registry.ts';
import { flagName, type Schema } from '../engine/config/schema.ts';
import { TRAINER_SCHEMA } from '../engine/config/trainer.ts';
import { planRun, prepareData, type RunPlan, type RunRequest } from '../engine/train/plan.ts';
import { loadCheckpoint, memoryFields, saveCheckpoint, train, TrainingDivergedError, type TrainEvent } from '../engine/train/trainer.ts';
import { Flags, UsageError } from './args.ts';
import { applyAdapterDir } from './export.ts';
import { loadMethods } from './methods.ts';
import { precisionFlag, progressPrinter } from './common.ts';
import { BUILTIN_MODELS, resolveModel } from './sources.ts';
import { folderEntries, OutputRefused, refuseOverlap, removeStaleTemporaries, StagedFolder, writeFileAtomic } from './files.ts';

const DATASETS = resolve(dirname(fileURLToPath(import.meta.url)), '../../public/datasets');

/** Boolean flags of every registered schema (they take no value). */
function booleanFlags(): string[] {
  const all = [TRAINER_SCHEMA as Schema, ...listMethods().map((m) => m.schema)];
  return ['json', 'pack', 'train-on-prompt', 'overwrite', ...all.flatMap((s) => Object.entries(s).filter(([, f]) => f.kind === 'boolean').map(([k]) => flagName(k)))];
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
  f.optional('checkpoint-every');
  f.bool('overwrite');
  f.finish();
  const files = resolveModel(modelSpec, progressPrinter(json));
  const spec = parseModelConfig(await readText(files, 'config.json'), `${files.name}/config.json`);
  const plan = planRun(spec, request);
  const line = estimateLine(plan);
  if (json) console.log(JSON.stringify(line));
  else printTable([['weights', line.weights], ['adapter', line.adapter], ['gradients', line.gradients], ['optimizer', line.optimizer], ['activations', line.activations], ['scratch', line.scratch], ['total', line.total]]);
}

/** Everything a run is made from, as run.json keeps it (a resume reads it back). */
interface RunSettings {
  modelSpec: string;
  dataSpec: string;
  request: RunRequest;
  evalFraction: number;
  metricRows: number;
  pack: boolean;
  trainOnPrompt: boolean;
  adapterDir?: string;
  checkpointEvery: number;
  /** sha256 of the data file's text: a resume refuses data that changed under it. */
  dataSha256: string;
}

const CHECKPOINT = 'checkpoint.safetensors';
/** Default --checkpoint-every: a killed run loses at most this many steps. */
export const DEFAULT_CHECKPOINT_EVERY = 50;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** A local path as an absolute one (a resume may run from another folder); specs kept as they are. */
const absolute = (spec: string) => (/^(hf|builtin):/.test(spec) ? spec : resolve(spec));
/** The folder a model spec reads from, when it is one on disk. */
function modelFolder(spec: string): string | undefined {
  if (spec.startsWith('hf:')) return undefined;
  if (spec.startsWith('builtin:')) return join(BUILTIN_MODELS, spec.slice(8));
  return spec;
}

function readRunSettings(dir: string): RunSettings & { status?: string } {
  const p = join(dir, 'run.json');
  if (!existsSync(p)) throw new UsageError(`--resume ${dir}: no run.json there (give a folder that train --out wrote)`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new UsageError(`--resume ${dir}: run.json is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const r = v as Record<string, unknown> & { resume?: Partial<RunSettings> & { status?: string } };
  const s = r.resume;
  if (typeof v !== 'object' || v === null || !s || typeof s.modelSpec !== 'string' || typeof s.dataSpec !== 'string' || typeof s.request !== 'object' || s.request === null) {
    throw new UsageError(`--resume ${dir}: run.json has no "resume" section (it was written by an older webtune, or edited); start the run again with --out`);
  }
  return s as RunSettings & { status?: string };
}

function runJson(s: RunSettings, plan: RunPlan, status: 'running' | 'done' | 'diverged', extra: Record<string, unknown> = {}): string {
  const dataSettings = { evalFraction: s.evalFraction, pack: s.pack, trainOnPrompt: s.trainOnPrompt, metricRows: s.metricRows, ...(s.adapterDir ? { startedFrom: s.adapterDir } : {}) };
  const body = {
    model: s.modelSpec, data: s.dataSpec, ...s.request, methodConfig: plan.config, trainer: plan.trainer, dataSettings, estimate: plan.estimate,
    status, ...extra, resume: { ...s, request: { ...s.request, trainer: plan.trainer } },
  };
  return JSON.stringify(body, null, 2) + '\n';
}

/** metrics.jsonl's complete lines up to `step` (what an uninterrupted run had logged by then;
 *  an eval the end of a finished run added off the --eval-every cadence is dropped). */
function metricsUpTo(dir: string, step: number, evalEvery: number): string {
  const p = join(dir, 'metrics.jsonl');
  if (!existsSync(p)) return '';
  const keep: string[] = [];
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    let e: { type?: unknown; step?: unknown };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue; // the half line a kill cut
    }
    if (typeof e.step !== 'number' || e.step > step) continue;
    if (e.type === 'eval' && !(evalEvery > 0 && e.step % evalEvery === 0)) continue;
    keep.push(line);
  }
  return keep.map((l) => l + '\n').join('');
}

export async function trainCommand(argv: string[]): Promise<void> {
  await loadMethods();
  if (argv.includes('--resume')) return resumeCommand(argv);
  const { f, json, modelSpec, request } = parse(argv);
  const dataSpec = f.string('data');
  const outDir = f.optional('out');
  const overwrite = f.bool('overwrite');
  const evalFraction = f.number('eval-fraction', 0.1, (n) => n >= 0 && n < 1, 'a number in [0, 1)');
  const metricRows = f.number('metric-rows', 32, (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0');
  const pack = f.bool('pack');
  const trainOnPrompt = f.bool('train-on-prompt');
  const adapterDir = f.optional('adapter');
  const checkpointEvery = f.number('checkpoint-every', DEFAULT_CHECKPOINT_EVERY, (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0 (0: only at the end)');
  f.finish();
  if (overwrite && !outDir) throw new UsageError('--overwrite needs --out DIR (the run folder to replace)');
  const { content } = readDataFile(dataSpec);
  const settings: RunSettings = {
    modelSpec: absolute(modelSpec), dataSpec: absolute(dataSpec), request, evalFraction, metricRows, pack, trainOnPrompt,
    ...(adapterDir ? { adapterDir: resolve(adapterDir) } : {}), checkpointEvery, dataSha256: sha256(content),
  };
  if (!outDir) return runTraining(settings, { json });
  // Nothing is opened for writing before these checks pass.
  const folder = modelFolder(modelSpec);
  refuseOverlap({ flag: '--out', path: outDir }, [
    folder ? { flag: `--model ${modelSpec}`, path: folder } : undefined,
    adapterDir ? { flag: `--adapter ${adapterDir}`, path: adapterDir } : undefined,
    dataSpec.startsWith('builtin:') ? undefined : { flag: `--data ${dataSpec}`, path: dataSpec },
  ]);
  const there = folderEntries(outDir);
  if (there.length && !overwrite) {
    const what = there.includes('run.json') ? 'a run' : `${there.length} file${there.length > 1 ? 's' : ''}`;
    throw new OutputRefused(`--out ${outDir} already holds ${what} (${there.slice(0, 4).join(', ')}${there.length > 4 ? ', …' : ''}): continue it with --resume ${outDir}, replace it with --overwrite, or choose another folder`);
  }
  // A replaced run stays whole until the new one has finished: the new run is trained in a
  // hidden sibling folder and swapped in at the end.
  const staged = there.length ? new StagedFolder(outDir) : undefined;
  try {
    await runTraining(settings, { json, outDir: staged?.path ?? outDir, shownOut: outDir });
    staged?.commit();
  } catch (e) {
    staged?.abandon();
    throw e;
  }
}

/** train --resume DIR [--steps N] [--checkpoint-every N] [--json]: continue a killed or finished run. */
async function resumeCommand(argv: string[]): Promise<void> {
  const f = new Flags(argv, ['json']);
  const dir = f.string('resume');
  const json = f.bool('json');
  const steps = f.optional('steps');
  const every = f.optional('checkpoint-every');
  const others = argv.filter((a) => a.startsWith('--') && !['--resume', '--json', '--steps', '--checkpoint-every'].includes(a));
  if (others.length) throw new UsageError(`--resume ${dir} takes every setting from ${join(dir, 'run.json')}; only --steps, --checkpoint-every and --json may be given with it (not ${others.join(', ')})`);
  f.finish();
  const s = readRunSettings(dir);
  const ckptPath = join(dir, CHECKPOINT);
  if (!existsSync(ckptPath)) throw new UsageError(`--resume ${dir}: no ${CHECKPOINT} yet (the run was killed before its first checkpoint); start it again with --out ${dir} --overwrite`);
  const trainer = { ...s.request.trainer };
  if (steps !== undefined) {
    const n = Number(steps);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--steps should be a positive integer, got "${steps}"`);
    trainer.steps = n;
  }
  // The step it is at, from the checkpoint's header (before any GPU work).
  let at: number | undefined;
  try {
    at = Number((await SafetensorsFile.open(nodeFileSource(ckptPath))).metadata.step);
  } catch (e) {
    throw new UsageError(`--resume ${dir}: ${CHECKPOINT} cannot be read (${e instanceof Error ? e.message : String(e)})`);
  }
  if (Number.isInteger(at) && at >= Number(trainer.steps)) throw new UsageError(`--resume ${dir}: the run is at step ${at} already; give --steps above ${at} to train further`);
  const checkpointEvery = every === undefined ? s.checkpointEvery : Number(every);
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 0) throw new UsageError(`--checkpoint-every should be an integer ≥ 0, got "${every}"`);
  const { content } = readDataFile(s.dataSpec);
  if (sha256(content) !== s.dataSha256) {
    throw new UsageError(`--resume ${dir}: the data ${s.dataSpec} changed since the run started, so the resumed run would not see the same batches; restore it, or start a new run`);
  }
  await runTraining({ ...s, request: { ...s.request, trainer }, checkpointEvery }, { json, outDir: dir, resume: true });
}

async function runTraining(s: RunSettings, o: { json: boolean; outDir?: string; shownOut?: string; resume?: boolean }): Promise<void> {
  const { json, outDir } = o;
  const { request, modelSpec, adapterDir } = s;
  const say = (obj: Record<string, unknown>, text: string) => (json ? console.log(JSON.stringify(obj)) : console.log(text));

  // Everything that can fail on bad input fails here, before the GPU is touched.
  const { name: dataName, content } = readDataFile(s.dataSpec);
  const parsed = parseDataset(dataName, content);
  if (!o.resume) {
    for (const e of parsed.errors) {
      if (json) console.log(JSON.stringify({ type: 'row-error', file: dataName, ...e }));
      else process.stderr.write(`${dataName}:${e.line}: ${e.message} (skipped)\n`);
    }
  }
  const files = resolveModel(modelSpec, progressPrinter(json));
  const spec = parseModelConfig(await readText(files, 'config.json'), `${files.name}/config.json`);
  const plan = planRun(spec, request);
  const tokenizer = await loadTokenizer(files, spec.eosTokenIds);
  const data = prepareData(parsed.rows, tokenizer, { B: request.B, T: request.T, evalFraction: s.evalFraction, seed: request.seed, maskPrompt: !s.trainOnPrompt, pack: s.pack });
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
    if (adapterDir && !json && !o.resume) console.log(`continuing the adapter in ${adapterDir} (${state.trainableParams} trainable values)`);
    let startStep = 1;
    if (outDir && o.resume) {
      removeStaleTemporaries(outDir);
      const { nextStep } = await loadCheckpoint(state, readFileSync(join(outDir, CHECKPOINT)), join(outDir, CHECKPOINT), { method: plan.method.name });
      startStep = nextStep;
      if (startStep > plan.trainer.steps) throw new UsageError(`--resume ${outDir}: the run is at step ${startStep - 1} already; give --steps above ${startStep - 1} to train further`);
      writeFileAtomic(join(outDir, 'metrics.jsonl'), metricsUpTo(outDir, startStep - 1, plan.trainer.evalEvery));
      say({ type: 'resume', step: startStep - 1, steps: plan.trainer.steps, outDir }, `resuming ${outDir} after step ${startStep - 1}, to step ${plan.trainer.steps}`);
    }
    if (outDir) {
      writeFileAtomic(join(outDir, 'run.json'), runJson(s, plan, 'running'));
      if (!o.resume) writeFileAtomic(join(outDir, 'metrics.jsonl'), '');
    }
    const metric = data.evalPrompts.length && s.metricRows > 0
      ? async () => (await exactMatch(model, tokenizer, data.evalPrompts, { limit: s.metricRows })).accuracy
      : undefined;
    const onEvent = (e: TrainEvent) => {
      // One write per line: a kill cuts at most the last line, which a resume drops.
      if (outDir) appendFileSync(join(outDir, 'metrics.jsonl'), JSON.stringify(e) + '\n');
      if (e.type === 'step') say(e, `step ${String(e.step).padStart(5)}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.tokensPerSec.toFixed(0)} tok/s  ${(e.memory.total / 2 ** 20).toFixed(2)} MiB`);
      else if (e.type === 'eval') say(e, `eval  step ${e.step}  loss ${e.loss.toFixed(4)}${e.metric === undefined ? '' : `  exact match ${(100 * e.metric).toFixed(1)} %`}`);
    };
    const checkpoint = async (step: number) => {
      if (outDir) writeFileAtomic(join(outDir, CHECKPOINT), await saveCheckpoint(state, step, { method: plan.method.name }));
    };
    const afterStep = outDir && s.checkpointEvery > 0
      ? async (step: number) => {
          if (step % s.checkpointEvery === 0) await checkpoint(step);
        }
      : undefined;
    let summary;
    try {
      summary = await train({ model, state, trainer: plan.trainer, train: data.train, eval: data.eval, metric, onEvent, startStep, afterStep });
    } catch (e) {
      if (outDir && e instanceof TrainingDivergedError) writeFileAtomic(join(outDir, 'run.json'), runJson(s, plan, 'diverged', { error: e.message, divergedAt: e.step }));
      throw e;
    }
    if (outDir) {
      for (const file of await state.exportFiles()) writeFileAtomic(join(outDir, file.name), file.bytes);
      await checkpoint(summary.steps);
      writeFileAtomic(join(outDir, 'run.json'), runJson(s, plan, 'done', { finishedSteps: summary.steps }));
    }
    const shown = o.shownOut ?? outDir;
    const done = {
      type: 'done', steps: summary.steps, finalLoss: summary.finalLoss, evalLoss: summary.evalLoss ?? null, metric: summary.metric ?? null,
      peakBytes: summary.peakBytes, estimatedBytes: plan.estimate.total, trainableParams: summary.trainableParams, outDir: shown ?? null,
      memory: memoryFields(gpu.ledger.snapshot()),
    };
    say(done, `done: ${summary.steps} steps, loss ${summary.finalLoss.toFixed(4)}${summary.evalLoss === undefined ? '' : `, eval ${summary.evalLoss.toFixed(4)}`}, peak ${(summary.peakBytes / 2 ** 20).toFixed(2)} MiB (estimated ${(plan.estimate.total / 2 ** 20).toFixed(2)}), ${summary.trainableParams} trainable${shown ? `, written to ${shown}` : ''}`);
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
