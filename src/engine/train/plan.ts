// A run, planned before any GPU work: the method and its config parsed from user input, the
// trainer's settings (the method's suggested defaults under the user's), every check a bad
// flag or shape should fail (unknown method or option, rank too large, unknown target,
// buffers past the device's limits), the memory estimate, and the data as batches.

import type { ByCategory } from '../gpu/ledger.ts';
import type { TextTokenizer } from '../data/tokenizer.ts';
import { batches as makeBatches, encodeRows, splitDataset, type Batch as DataBatch, type DatasetRow } from '../data/dataset.ts';
import type { ModelSpec } from '../model/config.ts';
import type { BasePrecision } from '../model/decoder.ts';
import { getMethod } from '../methods/registry.ts';
import { ConfigError, parseConfig, type ConfigOf, type Schema } from '../config/schema.ts';
import type { Batch, MethodDef, RunShape } from '../methods/types.ts';
import { TRAINER_SCHEMA, type TrainerConfig } from '../config/trainer.ts';

export interface RunRequest {
  method: string;
  /** Method options by schema field (strings from flags or values from a form). */
  methodConfig: Readonly<Record<string, unknown>>;
  /** Trainer options by schema field; unset ones take the method's suggestion, then the default. */
  trainer: Readonly<Record<string, unknown>>;
  B: number;
  T: number;
  precision: BasePrecision;
  seed: number;
}

export interface RunPlan {
  method: MethodDef;
  /** Parsed by the method's schema. */
  config: ConfigOf<Schema>;
  trainer: TrainerConfig;
  shape: RunShape;
  seed: number;
  estimate: ByCategory & { total: number };
}

/** Device limits the plan checks single buffers against (GPUSupportedLimits fields). */
export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export function planRun(spec: ModelSpec, req: RunRequest, limits?: BufferLimits): RunPlan {
  const method = getMethod(req.method);
  if (!(Number.isInteger(req.B) && req.B >= 1)) throw new ConfigError(`--batch should be a positive integer, got ${req.B}`);
  if (!(Number.isInteger(req.T) && req.T >= 2)) throw new ConfigError(`--seq should be an integer ≥ 2, got ${req.T}`);
  if (req.T > spec.maxPositions) throw new ConfigError(`--seq ${req.T} is longer than the model's ${spec.maxPositions} positions`);
  const clash = Object.keys(method.schema).filter((k) => k in TRAINER_SCHEMA);
  if (clash.length) throw new Error(`method ${method.name}: options ${clash.join(', ')} clash with the trainer's`);
  const config = parseConfig(method.schema, req.methodConfig, `${method.name}: --`);
  const trainer = parseConfig(TRAINER_SCHEMA, { ...method.trainerDefaults, ...req.trainer });
  const shape: RunShape = { B: req.B, T: req.T, precision: req.precision };
  method.check(spec, config, shape);
  const est = method.estimateMemory(spec, config, shape, trainer);
  const total = Object.values(est).reduce((a, b) => a + b, 0);
  if (limits) {
    const N = req.B * req.T;
    const biggest = Math.max(N * spec.vocab, N * spec.intermediate, spec.vocab * spec.hidden) * 4; // logits, MLP activations, embedding
    const cap = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
    if (biggest > cap) {
      throw new ConfigError(`--batch ${req.B} × --seq ${req.T} needs a ${(biggest / 2 ** 20).toFixed(1)} MiB buffer (the logits of ${N} tokens × ${spec.vocab} words), more than this device binds at once (${(cap / 2 ** 20).toFixed(1)} MiB): lower --batch or --seq`);
    }
  }
  return { method, config, trainer, shape, seed: req.seed, estimate: { ...est, total } };
}

export function schemaOf(method: string): Schema {
  return getMethod(method).schema;
}

export interface DataPlan {
  train: Batch[];
  eval: Batch[];
  /** Held-out prompt/completion rows, for the exact-match metric. */
  evalPrompts: DatasetRow[];
  truncated: number;
  trainTokens: number;
}

export interface DataOptions {
  B: number;
  T: number;
  evalFraction: number;
  seed: number;
  maskPrompt: boolean;
  pack: boolean;
}

function shaped(b: DataBatch, B: number, T: number): Batch {
  return { ids: b.ids, targets: b.targets, mask: b.mask, B, T };
}

/** Rows → tokenized, masked, split and batched (B, T) train and eval sets. */
export function prepareData(rows: readonly DatasetRow[], tok: TextTokenizer, o: DataOptions): DataPlan {
  if (rows.length === 0) throw new ConfigError('the dataset has no readable rows');
  const split = splitDataset(rows, o.evalFraction, o.seed);
  const enc = (r: readonly DatasetRow[]) => encodeRows(r, tok, { maxTokens: o.T + 1, maskPrompt: o.maskPrompt, useChatTemplate: true });
  const tr = enc(split.train);
  const ev = enc(split.eval);
  const padId = tok.eosIds[0] ?? 0;
  const train = makeBatches(tr.examples, o.B, o.T, { pack: o.pack, padId }).filter((b) => b.tokens > 0).map((b) => shaped(b, o.B, o.T));
  const evalB = makeBatches(ev.examples, o.B, o.T, { pack: o.pack, padId }).filter((b) => b.tokens > 0).map((b) => shaped(b, o.B, o.T));
  if (train.length === 0) throw new ConfigError('no training tokens: every example is masked out or empty (is --mask-prompt hiding everything?)');
  return {
    train, eval: evalB, evalPrompts: split.eval.filter((r) => r.kind === 'prompt'),
    truncated: tr.truncated + ev.truncated, trainTokens: train.reduce((a, b) => a + b.B * b.T, 0),
  };
}
