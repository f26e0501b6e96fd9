// The method contract. Each method is one folder under src/engine/methods/ whose index.ts
// calls `registerMethod` with one MethodDef; the hosts discover the folders (methods/all.ts
// in Vite and vitest, src/cli/methods.ts in Node), so adding a method edits no central list.

import type { ByCategory } from '../gpu/ledger.ts';
import type { ModelSpec } from '../model/config.ts';
import type { BasePrecision } from '../model/decoder.ts';
import type { CausalLM } from '../model/load.ts';
import type { TrainerConfig } from '../config/trainer.ts';
import type { Batch, StepContext, StepResult, TrainedTensor } from '../optim/types.ts';
import type { ConfigOf, Schema } from '../config/schema.ts';

export type { Batch, StepContext, StepResult, TrainedTensor };

/** The shape of a run, known before anything is allocated. */
export interface RunShape {
  B: number;
  T: number;
  /** How the base's linear weights are held. */
  precision: BasePrecision;
}

export interface ExportFile {
  name: string;
  bytes: Uint8Array;
}

/** What `attach` gives: the run's trainable state on the GPU. */
export interface Trainable {
  /** Number of trained values. */
  readonly trainableParams: number;
  /** The tensors it trains (LoRA: every A and B; full: the chosen weights). */
  tensors(): readonly TrainedTensor[];
  /** False when dispose() leaves the base exactly as it was (adapters that are taken off);
   *  true or absent when training wrote the base's weights in place, so a host that wants
   *  the base back reloads it. */
  readonly modifiesBase?: boolean;
  /** Formats `exportFiles` writes; the first is the method's default. */
  readonly exportFormats: readonly string[];
  step(batches: readonly Batch[], ctx: StepContext): Promise<StepResult>;
  /** Files of an export format (default: the first of exportFormats). */
  exportFiles(format?: string): Promise<ExportFile[]>;
  /** Fold the trained state into the base weights; the model then computes the same logits
   *  with the adapter gone. */
  merge(): Promise<void>;
  /** Trainable and optimizer state by name, for checkpoints (host copies). */
  saveState(): Promise<Map<string, Float32Array>>;
  loadState(state: ReadonlyMap<string, Float32Array>): Promise<void>;
  /** Free the adapter and optimizer state and take any adapter off the model. */
  dispose(): void;
}

export interface AttachOptions {
  seed: number;
  /** Where the base came from (a Hub id or folder name), recorded in exports. */
  baseModel?: string;
  trainer: TrainerConfig;
  shape: RunShape;
  /** The run's first training micro-batch, for methods that look at data before the first
   *  step (SHiRA's --mask grad: one backward at initialisation). Optional: methods that
   *  need it say so with a ConfigError when it is missing. */
  firstBatch?: Batch;
}

export interface MethodDef<S extends Schema = Schema> {
  name: string;
  family: 'first-order' | 'zeroth-order';
  /** One line for menus. */
  title: string;
  /** A paragraph: what it trains, what it costs, the paper. */
  help: string;
  schema: S;
  /** Trainer settings this method is usually run with (MeZO: SGD at a small lr). */
  trainerDefaults?: Partial<TrainerConfig>;
  /** Throws a ConfigError naming the flag when the config cannot work on this model/shape
   *  (a rank larger than the layer, a target the architecture lacks); no GPU work. */
  check(spec: ModelSpec, cfg: ConfigOf<S>, shape: RunShape): void;
  /** The nearest settings of this method that run on this base when `cfg` cannot (MeZO on a
   *  quantized base perturbs LoRA adapters: ZO-LoRA), with a one-line note saying what
   *  changed; undefined when `cfg` fits as it is or nothing close does. A comparison queues
   *  each method with what this gives; no GPU work. */
  fitToBase?(spec: ModelSpec, cfg: ConfigOf<S>, shape: RunShape): { config: ConfigOf<S>; note: string } | undefined;
  /** Bytes per ledger category at the run's peak, before anything is allocated. */
  estimateMemory(spec: ModelSpec, cfg: ConfigOf<S>, shape: RunShape, trainer: TrainerConfig): ByCategory;
  attach(model: CausalLM, cfg: ConfigOf<S>, opts: AttachOptions): Promise<Trainable>;
  /** Re-create a trained state from this method's default export (an import). */
  importFiles?(model: CausalLM, files: readonly ExportFile[], opts: AttachOptions): Promise<Trainable>;
}
