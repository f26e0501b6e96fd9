// The method contract. Each method is one folder under src/engine/methods/ whose index.ts
// calls `registerMethod` with one MethodDef; the hosts discover the folders (methods/all.ts
// in Vite and vitest, src/cli/methods.ts in Node), so adding a method edits no central list.

import type { ByCategory } from '../gpu/ledger.ts';
import type { Checkpoint } from '../io/model-files.ts';
import type { ModelSpec } from '../model/config.ts';
import type { BasePrecision } from '../model/decoder.ts';
import type { CausalLM } from '../model/load.ts';
import type { LinearShape } from '../model/memory.ts';
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

/** One base tensor's change when a run's files are folded into a base checkpoint on the
 *  host (a merged export): new values from the old (f32, checkpoint storage order). */
export interface TensorEdit {
  /** The linear layer it edits, when it is one: the merge checks the checkpoint's shape. */
  linear?: LinearShape;
  apply(w: Float32Array): ArrayLike<number> | Promise<ArrayLike<number>>;
}

/** What a method's files change in a base checkpoint. */
export interface HostEdits {
  /** What the files were, in words ('lora', 'dora', 'shira', 'weights'). */
  kind: string;
  /** By the base checkpoint's tensor name. */
  edits: Map<string, TensorEdit>;
}

/** The file format a method defines: how files of it are recognised without a run (an
 *  adapter folder from PEFT, a run's export) and folded into a base. */
export interface MethodFormat {
  /** adapter_config.json's peft_type, for a PEFT format (LORA, SHIRA). */
  peftType?: string;
  /** The file that marks a format without adapter_config.json (full: model.safetensors). */
  marker?: string;
  /** The files' change to a base checkpoint, on the host; absent when it has none. */
  hostEdits?(files: readonly ExportFile[], base: { spec: ModelSpec; ckpt: Checkpoint }): Promise<HostEdits>;
  /** Why these files cannot be merged into a base (when there is no hostEdits). */
  noMerge?: string;
}

/** Exports a finished run offers beside its method's own formats: 'merged' (the base with
 *  the run folded in), 'gguf' (a llama.cpp LoRA adapter), 'lora' (the run as a rank-r LoRA
 *  by SVD), 'squeeze' (a LoRA compressed to a lower rank), 'recipe' (continue at scale). */
export type ExtraExport = 'merged' | 'gguf' | 'lora' | 'squeeze' | 'recipe';

/** What "continue at scale" (export/recipe.ts) writes for a run: a LoRA or full
 *  fine-tune recipe for Axolotl / TRL. */
export interface ScaleOutPlan {
  kind: 'lora' | 'full';
  rank: number;
  alpha: number;
  targets: string[] | 'all-linear';
  rslora: boolean;
  dora: boolean;
  lr: number;
  /** The exported folder the recipe starts from ('adapter', 'model'), or null: fresh. */
  startFrom: string | null;
  /** What differs from the webtune run, said in the recipe. */
  notes: string[];
}

/** What a method's scaleOut reads: the run's config (as run.json holds it) and helpers. */
export interface ScaleOutContext {
  /** run.json's methodConfig. */
  config: Record<string, unknown>;
  /** The run's learning rate. */
  lr: number;
  num(key: string, d: number): number;
  list(key: string): string[];
  /** Target modules of a config value ('all-linear', a list, or the architecture's default). */
  targetsOf(v: unknown): string[] | 'all-linear';
  /** A LoRA plan from the run's rank, alpha, targets, rsLoRA, DoRA and lr, with `p` over it. */
  lora(p?: Partial<ScaleOutPlan>): ScaleOutPlan;
  /** Where a recipe that starts from the run's export starts: `d`, or the caller's choice. */
  start(d: string): string | null;
  /** The caller's --start-from, if given. */
  startFrom?: string | null;
  /** The recipe only approximates the method (why); throws when the caller asked to refuse. */
  approximate(why: string): void;
}

/** A starting point the method panel offers as a button (settings for this method's form),
 *  and, with `compare`, a row of the learning comparison (`npm run bench:learning`, the
 *  page's "Compare all methods") on the built-in model. Plain data: it crosses the worker. */
export interface MethodPreset {
  /** Unique among all methods' presets (the page remembers the chosen one by it). */
  id: string;
  /** The button's text ("QLoRA r=8 on attention"). */
  title: string;
  /** This method's settings; fields left out keep their defaults. */
  config: Record<string, unknown>;
  /** Base precisions it is meant for; the page says so beside the preset when the loaded
   *  base is another. Absent: any. */
  precisions?: readonly BasePrecision[];
  /** Shown beside the preset: what it needs from elsewhere on the page. */
  note?: string;
  /** In the learning comparison, with the settings it runs with there (tuned for the built-in
   *  model, so not applied by the button): the base precision (default: the first of
   *  `precisions`, else f32) and the trainer's settings over the method's defaults. */
  compare?: { precision?: BasePrecision; trainer?: Partial<TrainerConfig> };
}

export interface MethodDef<S extends Schema = Schema> {
  name: string;
  family: 'first-order' | 'zeroth-order';
  /** One line for menus. */
  title: string;
  /** A paragraph: what it trains, what it costs, the paper. */
  help: string;
  schema: S;
  /** Starting points for the method panel and the learning comparison (ids unique). */
  presets?: readonly MethodPreset[];
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
  /** The file format this method defines, if it defines one (others write a format another
   *  method defines: MeZO's ZO-LoRA writes lora's PEFT LORA). */
  format?: MethodFormat;
  /** The extra exports a run with this config offers. */
  offers(cfg: ConfigOf<S>): readonly ExtraExport[];
  /** The closest Axolotl / TRL recipe to continue a run at scale (export --format recipe). */
  scaleOut(ctx: ScaleOutContext): ScaleOutPlan;
  /** The run's base label in lists: "lora r=8", "shira 1 %" (the trainer's lr is added by the host). */
  label(cfg: ConfigOf<S>): string;
}
