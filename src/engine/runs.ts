// Datasets and training runs behind the worker's API, host-agnostic (the worker serves it
// through comlink; tests drive it in Node). Runs share the one device: each is a job on the
// host's exclusive queue, so loads, generations and runs never interleave. A run trains on
// the loaded base, keeps its export and checkpoint, and leaves the base as it found it
// (methods that train the weights in place get the base reloaded after them).

import { encodeRows, parseDataset, tokenLengthHistogram, type DatasetRow, type FieldMapping, type LengthHistogram, type ParsedDataset, type RowError } from './data/dataset.ts';
import { exactMatch } from './data/metric.ts';
import type { TextTokenizer } from './data/tokenizer.ts';
import type { Gpu } from './gpu/gpu.ts';
import type { ByCategory } from './gpu/ledger.ts';
import type { BasePrecision } from './model/decoder.ts';
import type { CausalLM } from './model/load.ts';
import { getMethod, listMethods } from './methods/registry.ts';
import { parseConfig, type Schema } from './config/schema.ts';
import type { ExportFile, ExtraExport, MethodDef, MethodPreset, Trainable } from './methods/types.ts';
import type { ModelFiles } from './io/model-files.ts';
import { peftLoraToGguf } from './export/lora-gguf.ts';
import { memoryFolder, writeMergedModel } from './export/merged.ts';
import { ggufAdapterModelfile, mergedGgufFiles } from './export/gguf-files.ts';
import { TRAINER_SCHEMA } from './config/trainer.ts';
import { planRun, prepareData, type RunPlan } from './train/plan.ts';
import { loadCheckpoint, RunControl, saveCheckpoint, train, type TrainEvent, type TrainSummary } from './train/trainer.ts';

export interface MethodInfo {
  name: string;
  family: 'first-order' | 'zeroth-order';
  title: string;
  help: string;
  schema: Schema;
  trainerDefaults: Record<string, unknown>;
  presets: MethodPreset[];
}

export interface DatasetSummary {
  id: string;
  name: string;
  format: string;
  rows: number;
  kinds: { text: number; prompt: number; chat: number };
  /** Rows that could not be read (the first 200), by line (by row number for Parquet). */
  errors: RowError[];
  errorCount: number;
  /** Set when the source has more records than were read: the row cap, and the source's count when known. */
  capped?: { at: number; total?: number };
}

export interface PreviewSettings {
  maskPrompt: boolean;
  /** Tokens a training sequence holds (the run's T + 1: T inputs and the target after the last). */
  maxTokens: number;
}

export interface DatasetPreview {
  /** The first rows as the model will see them: the decoded text in spans, trained (loss) or masked. */
  rows: { segments: { text: string; trained: boolean }[]; tokens: number; truncated: boolean }[];
  /** Token lengths (before any cut) of the first `counted` rows. */
  histogram: LengthHistogram;
  /** How many of the counted rows are longer than maxTokens and would be cut. */
  truncated: number;
  /** Rows tokenized for the histogram (all of them, or the first PREVIEW_COUNT_ROWS). */
  counted: number;
  /** Rows in the dataset. */
  totalRows: number;
}

/** Rows shown in a preview. */
export const PREVIEW_ROWS = 4;
/** Rows tokenized for a preview's length histogram (tokenizing 50k rows would hold the worker up). */
export const PREVIEW_COUNT_ROWS = 5000;
/** The preview's length histogram counts tokens up to this many (or 4 × maxTokens when more). */
export const PREVIEW_LENGTH_CAP = 2048;

/**
 * Decode an example in spans of equal loss. Each span's text is the growth of the decoded
 * prefix (decoding a span alone would drop word-start spaces and split multi-byte pieces);
 * special tokens (BOS, EOS, end-of-turn) are shown, since the model sees them.
 */
export function exampleSegments(tokens: readonly number[], loss: readonly number[], tok: TextTokenizer): { text: string; trained: boolean }[] {
  const out: { text: string; trained: boolean }[] = [];
  let shown = '';
  let start = 0;
  for (let i = 1; i <= tokens.length; i++) {
    if (i < tokens.length && loss[i] === loss[start]) continue;
    const text = tok.decode(tokens.slice(0, i), false);
    const piece = text.startsWith(shown) ? text.slice(shown.length) : tok.decode(tokens.slice(start, i), false);
    const trained = loss[start] === 1;
    if (piece) {
      const last = out[out.length - 1];
      if (last && last.trained === trained) last.text += piece;
      else out.push({ text: piece, trained });
    }
    shown = text;
    start = i;
  }
  return out;
}

export interface DataSettings {
  evalFraction: number;
  maskPrompt: boolean;
  pack: boolean;
  /** Held-out prompt rows scored by exact match at each eval (0: none). */
  metricRows: number;
}

export interface RunRequestData {
  datasetId: string;
  method: string;
  methodConfig: Record<string, unknown>;
  trainer: Record<string, unknown>;
  B: number;
  T: number;
  seed: number;
  data: DataSettings;
  /** Shown in the run list. */
  label?: string;
  /** Keep a checkpoint every N steps (in the worker's memory), from which a run continues
   *  exactly after the GPU device is lost. Absent: after each step that ends a minute or
   *  more after the last checkpoint. 0: never. */
  checkpointEvery?: number;
}

export interface EstimateResult {
  bytes: ByCategory & { total: number };
  /** The request is valid and its largest buffer fits the device; otherwise `error` says why. */
  ok: boolean;
  error?: { name: string; message: string };
}

export type RunPhase = 'queued' | 'running' | 'done' | 'stopped' | 'failed';

export type RunEvent =
  | {
      type: 'run'; id: string; phase: RunPhase; summary?: TrainSummary; error?: { name: string; message: string }; trainableParams?: number; exportFormats?: string[];
      /** What happened to a running run that it recovered from (a lost GPU device), in words for the user. */
      notice?: string;
      /** The run continues after this step (its later steps' events come again). */
      restartedAt?: number;
    }
  | { type: 'train'; id: string; event: TrainEvent };

export interface LoadedBase {
  model: CausalLM;
  tokenizer: TextTokenizer;
  name: string;
  precision: BasePrecision;
  /** The base's files (a merged export reads the checkpoint from them). */
  source?: ModelFiles;
}

/** Formats a run offers here beside its method's own, as its method says (methods/<m>/):
 *  a llama.cpp GGUF adapter, and the merged model (a Hugging Face folder, and one GGUF file
 *  for llama.cpp / Ollama) where the method offers them. */
export function extraExportFormats(method: MethodDef, config: RunPlan['config']): string[] {
  const offered: readonly ExtraExport[] = method.offers(config);
  return [...(offered.includes('gguf') ? ['gguf'] : []), ...(offered.includes('merged') ? ['merged', 'gguf-merged'] : [])];
}

export interface RunHost {
  gpu(): Promise<Gpu>;
  exclusive<T>(job: () => Promise<T>): Promise<T>;
  emit(e: RunEvent): void;
  /** The loaded base, if any. */
  base(): LoadedBase | undefined;
  /** Load the same base again (after a method changed its weights in place). */
  reloadBase(): Promise<void>;
  /** Called before each run starts (the worker autotunes its kernels on the first). */
  beforeRun?(): Promise<void>;
  /** After the GPU device was lost: acquire a new device and load the same base on it. A host
   *  without it fails the run with the device-lost error. */
  recover?(): Promise<void>;
}

/** How many times one run gets a new device before it fails. */
export const MAX_DEVICE_RECOVERIES = 3;
/** Without checkpointEvery, a run keeps a checkpoint after a step this long after the last one. */
export const CHECKPOINT_INTERVAL_MS = 60_000;

/** Whether `e` (thrown while `gpu` was in use) means the device is gone. */
export function isDeviceLoss(e: unknown, gpu: Gpu): boolean {
  if (gpu.lost || (e instanceof Error && e.name === 'DeviceLostError')) return true;
  return e instanceof Error && /device (is |was )?(lost|destroyed)|instance dropped/i.test(e.message);
}

interface RunRecord {
  id: string;
  request: RunRequestData;
  plan: RunPlan;
  control: RunControl;
  phase: RunPhase;
  files?: ExportFile[];
  /** The method's export formats; `files` is the first. */
  exportFormats?: readonly string[];
  checkpoint?: Uint8Array;
  summary?: TrainSummary;
  /** Base it ran on (imports need the same one), and how that base was held. */
  baseName: string;
  basePrecision?: BasePrecision;
}

/** Why a run cannot be applied to the loaded base (another model, or the same one held at
 *  another precision: its outputs would differ), or undefined when it can. */
function baseMismatch(r: { id: string; baseName: string; basePrecision?: BasePrecision }, base: LoadedBase, todo: string): string | undefined {
  if (base.name !== r.baseName) return `run ${r.id} was trained on ${r.baseName}; load that model to ${todo}`;
  if (r.basePrecision && base.precision !== r.basePrecision) return `run ${r.id} was trained on ${r.baseName} held as ${r.basePrecision}, and it is loaded as ${base.precision} now (its outputs would differ); load it as ${r.basePrecision} to ${todo}`;
  return undefined;
}

const errorOf = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });

export class RunManager {
  private readonly datasets = new Map<string, { summary: DatasetSummary; rows: DatasetRow[] }>();
  private readonly runs = new Map<string, RunRecord>();
  private nextId = 1;

  constructor(private readonly host: RunHost) {}

  methods(): { methods: MethodInfo[]; trainer: Schema } {
    return {
      methods: listMethods().map((m) => ({ name: m.name, family: m.family, title: m.title, help: m.help, schema: m.schema, trainerDefaults: { ...m.trainerDefaults }, presets: [...(m.presets ?? [])] })),
      trainer: TRAINER_SCHEMA,
    };
  }

  /** Parse a dataset file's text; unreadable rows are listed, the rest kept. */
  addDataset(name: string, content: string, mapping?: FieldMapping): DatasetSummary {
    return this.addParsed(name, parseDataset(name, content, mapping));
  }

  /** Keep rows parsed elsewhere (Parquet files, a Hub dataset) as a dataset. */
  addParsed(name: string, parsed: ParsedDataset): DatasetSummary {
    const kinds = { text: 0, prompt: 0, chat: 0 };
    for (const r of parsed.rows) kinds[r.kind]++;
    const id = `data-${this.nextId++}`;
    const summary: DatasetSummary = { id, name, format: parsed.format, rows: parsed.rows.length, kinds, errors: parsed.errors.slice(0, 200), errorCount: parsed.errors.length };
    if (parsed.capped) summary.capped = parsed.capped;
    this.datasets.set(id, { summary, rows: parsed.rows });
    return summary;
  }

  /**
   * What the model will see of a dataset with the loaded base's tokenizer: the first rows
   * decoded in trained / masked spans (cut at maxTokens as training cuts them), and the token
   * lengths of up to PREVIEW_COUNT_ROWS rows with how many maxTokens would cut.
   */
  preview(datasetId: string, settings: PreviewSettings): DatasetPreview {
    const ds = this.datasets.get(datasetId);
    if (!ds) throw new Error(`no dataset "${datasetId}" is loaded`);
    const base = this.host.base();
    if (!base) throw new Error('No model is loaded: the preview needs the model\'s tokenizer (and chat template). Load a model first.');
    if (!(Number.isInteger(settings.maxTokens) && settings.maxTokens >= 2)) throw new RangeError(`preview: maxTokens must be an integer ≥ 2 (got ${settings.maxTokens})`);
    const counted = ds.rows.slice(0, PREVIEW_COUNT_ROWS);
    // lengths are counted up to PREVIEW_LENGTH_CAP tokens or 4 × maxTokens (longer rows show
    // there): a row costs tokenization in proportion to that, never to its own length
    const opts = { maxTokens: Math.max(PREVIEW_LENGTH_CAP, 4 * settings.maxTokens), maskPrompt: settings.maskPrompt, useChatTemplate: true };
    const { examples } = encodeRows(counted, base.tokenizer, opts);
    const rows = examples.slice(0, PREVIEW_ROWS).map((ex) => {
      const n = Math.min(ex.tokens.length, settings.maxTokens);
      return { segments: exampleSegments(ex.tokens.slice(0, n), ex.loss.slice(0, n), base.tokenizer), tokens: ex.tokens.length, truncated: ex.tokens.length > settings.maxTokens };
    });
    const truncated = examples.filter((e) => e.tokens.length > settings.maxTokens).length;
    // up to 20 bins, fewer when the lengths span fewer values (no run of empty bars)
    const lens = examples.map((e) => e.tokens.length);
    const span = lens.length ? Math.max(...lens) - Math.min(...lens) + 1 : 1;
    return { rows, histogram: tokenLengthHistogram(examples, Math.min(20, span)), truncated, counted: counted.length, totalRows: ds.rows.length };
  }

  private requireBase(): LoadedBase {
    const b = this.host.base();
    if (!b) throw new Error('No model is loaded: load a model before training.');
    return b;
  }

  private plan(req: RunRequestData, base: LoadedBase, gpu?: Gpu): RunPlan {
    const limits = gpu ? { maxBufferSize: gpu.adapter.limits.maxBufferSize, maxStorageBufferBindingSize: gpu.adapter.limits.maxStorageBufferBindingSize } : undefined;
    return planRun(base.model.spec, { method: req.method, methodConfig: req.methodConfig, trainer: req.trainer, B: req.B, T: req.T, precision: base.precision, seed: req.seed }, limits);
  }

  /** Bytes per ledger category the run would need, and whether it can start; never throws. */
  async estimate(req: RunRequestData): Promise<EstimateResult> {
    const empty = { weights: 0, adapter: 0, gradients: 0, optimizer: 0, activations: 0, scratch: 0, total: 0 };
    try {
      const base = this.requireBase();
      const bytes = this.plan(req, base).estimate;
      try {
        this.plan(req, base, await this.host.gpu());
        return { bytes, ok: true };
      } catch (e) {
        return { bytes, ok: false, error: errorOf(e) };
      }
    } catch (e) {
      return { bytes: empty, ok: false, error: errorOf(e) };
    }
  }

  /**
   * The request with its method's settings fitted to the loaded base (the method's
   * fitToBase: MeZO on a quantized base becomes ZO-LoRA), and the note saying what changed;
   * the request as it is when it fits, or when its method has nothing closer. Never throws
   * for a bad config: `estimate` and `start` say what is wrong with it.
   */
  fitToBase(req: RunRequestData): { request: RunRequestData; note?: string } {
    const base = this.requireBase();
    const m = getMethod(req.method);
    if (!m.fitToBase) return { request: req };
    let cfg;
    try {
      cfg = parseConfig(m.schema, req.methodConfig, `${m.name}: --`);
    } catch {
      return { request: req };
    }
    const fit = m.fitToBase(base.model.spec, cfg, { B: req.B, T: req.T, precision: base.precision });
    return fit ? { request: { ...req, methodConfig: { ...fit.config } }, note: fit.note } : { request: req };
  }

  /** Check the request now (bad input fails here, before any GPU work) and queue the run. */
  start(req: RunRequestData): string {
    const base = this.requireBase();
    const plan = this.plan(req, base);
    if (!this.datasets.has(req.datasetId)) throw new Error(`no dataset "${req.datasetId}" is loaded`);
    const id = `run-${this.nextId++}`;
    const rec: RunRecord = { id, request: req, plan, control: new RunControl(), phase: 'queued', baseName: base.name, basePrecision: base.precision };
    this.runs.set(id, rec);
    this.host.emit({ type: 'run', id, phase: 'queued' });
    void this.host.exclusive(() => this.execute(rec));
    return id;
  }

  private record(id: string): RunRecord {
    const r = this.runs.get(id);
    if (!r) throw new Error(`no run "${id}"`);
    return r;
  }

  pause(id: string): void {
    this.record(id).control.pause();
  }

  resume(id: string): void {
    this.record(id).control.resume();
  }

  stop(id: string): void {
    const r = this.record(id);
    r.control.stop();
    if (r.phase === 'queued') this.finish(r, 'stopped');
  }

  private finish(r: RunRecord, phase: RunPhase, extra: Partial<Extract<RunEvent, { type: 'run' }>> = {}): void {
    r.phase = phase;
    this.host.emit({ type: 'run', id: r.id, phase, ...extra });
  }

  private async execute(r: RunRecord): Promise<void> {
    if (r.control.stopped) return;
    let state: Trainable | undefined;
    let changedBase = false;
    try {
      const base = this.requireBase();
      if (base.name !== r.baseName) throw new Error(`run ${r.id} was planned on ${r.baseName}, but ${base.name} is loaded now`);
      const gpu = await this.host.gpu();
      this.plan(r.request, base, gpu); // device limits
      await this.host.beforeRun?.();
      const ds = this.datasets.get(r.request.datasetId);
      if (!ds) throw new Error(`no dataset "${r.request.datasetId}" is loaded`);
      const { B, T, seed, data: d } = r.request;
      const data = prepareData(ds.rows, base.tokenizer, { B, T, evalFraction: d.evalFraction, seed, maskPrompt: d.maskPrompt, pack: d.pack });
      gpu.ledger.resetPeak();
      changedBase = true;
      // The latest checkpoint, kept here: a lost device costs the steps after it, not the run.
      let saved: { bytes: Uint8Array; step: number } | undefined;
      let savedAt = performance.now();
      const every = r.request.checkpointEvery;
      let summary: TrainSummary | undefined;
      for (let recoveries = 0; !summary; ) {
        const b = this.requireBase();
        try {
          state = await r.plan.method.attach(b.model, r.plan.config, { seed, trainer: r.plan.trainer, shape: r.plan.shape, baseModel: b.name, firstBatch: data.train[0] });
          const st = state;
          const startStep = saved ? (await loadCheckpoint(st, saved.bytes, 'the run\'s last checkpoint', { method: r.plan.method.name })).nextStep : 1;
          if (recoveries === 0) this.finish(r, 'running', { trainableParams: st.trainableParams, exportFormats: [...st.exportFormats] });
          const metric = data.evalPrompts.length && d.metricRows > 0
            ? async () => (await exactMatch(b.model, b.tokenizer, data.evalPrompts, { limit: d.metricRows })).accuracy
            : undefined;
          summary = await train({
            model: b.model, state: st, trainer: r.plan.trainer, train: data.train, eval: data.eval, metric, control: r.control, startStep,
            onEvent: (event) => this.host.emit({ type: 'train', id: r.id, event }),
            afterStep: every === 0 ? undefined : async (step) => {
              if (every ? step % every !== 0 : performance.now() - savedAt < CHECKPOINT_INTERVAL_MS) return;
              saved = { bytes: await saveCheckpoint(st, step, { method: r.plan.method.name }), step };
              savedAt = performance.now();
            },
          });
        } catch (e) {
          const g = await this.host.gpu().catch(() => undefined);
          if (!this.host.recover || !g || !isDeviceLoss(e, g) || recoveries >= MAX_DEVICE_RECOVERIES) throw e;
          recoveries++;
          try {
            state?.dispose();
          } catch {
            // its buffers went with the device
          }
          state = undefined;
          const from = saved?.step ?? 0;
          await this.host.recover();
          await this.host.beforeRun?.();
          const message = e instanceof Error ? e.message : String(e);
          this.finish(r, 'running', {
            restartedAt: from,
            notice: `The GPU device was lost (${message.replace(/\s*Reload the page.*$/, '')}); webtune got a new device, reloaded ${b.name} and continues ${r.request.label ?? r.id} from ${from ? `its checkpoint at step ${from}` : 'the start'} with the same data order and seed.`,
          });
        }
      }
      const done: Trainable | undefined = state;
      if (!done) throw new Error(`run ${r.id} ended without its trained state`);
      r.files = await done.exportFiles();
      r.exportFormats = [...done.exportFormats, ...extraExportFormats(r.plan.method, r.plan.config)];
      r.checkpoint = await saveCheckpoint(done, summary.steps, { method: r.plan.method.name });
      r.summary = summary;
      this.finish(r, summary.stopped ? 'stopped' : 'done', { summary, exportFormats: [...r.exportFormats] });
    } catch (e) {
      this.finish(r, 'failed', { error: errorOf(e) });
    } finally {
      const inPlace = state?.modifiesBase ?? true;
      state?.dispose();
      // The run's planned pass memory (activations, loss rows) goes with it.
      this.host.base()?.model.releasePlans();
      if (changedBase && inPlace) await this.host.reloadBase();
    }
  }

  /**
   * A finished run's files in one of its export formats (default: the method's first):
   * the method's own formats, 'gguf' (llama.cpp LoRA adapter) and 'merged' (the base with
   * the run folded in, a Hugging Face model folder's files).
   */
  async exportRun(id: string, format?: string): Promise<ExportFile[]> {
    const r = this.record(id);
    const files = r.files;
    if (!files) throw new Error(`run ${id} has nothing to export yet (${r.phase})`);
    if (format === undefined || format === r.exportFormats?.[0]) return files;
    if (format === 'gguf' || format === 'merged' || format === 'gguf-merged') {
      return this.host.exclusive(async () => {
        const base = this.requireBase();
        const why = baseMismatch(r, base, `export it as ${format}`);
        if (why) throw new Error(why);
        if (format === 'gguf') {
          const modelfile = base.source ? await ggufAdapterModelfile(base.source, base.name) : undefined;
          return [{ name: 'adapter.gguf', bytes: (await peftLoraToGguf(files, base.model.spec)).bytes }, ...(modelfile ? [{ name: 'Modelfile', bytes: new TextEncoder().encode(modelfile) }] : [])];
        }
        if (!base.source) throw new Error('the loaded model\'s files are not at hand to merge into');
        if (format === 'gguf-merged') return mergedGgufFiles(base.source, files, base.precision);
        const out = memoryFolder();
        await writeMergedModel(base.source, files, out, { precision: base.precision });
        return [...out.files].map(([name, bytes]) => ({ name, bytes }));
      });
    }
    return this.host.exclusive(async () => this.withRun(r, (state) => state.exportFiles(format)));
  }

  /** Run `job` with a finished run's trained state imported onto the base, then restore it. */
  async withRun<T>(r: RunRecord | string, job: (state: Trainable, base: LoadedBase) => Promise<T>): Promise<T> {
    const rec = typeof r === 'string' ? this.record(r) : r;
    const base = this.requireBase();
    if (!rec.files) throw new Error(`run ${rec.id} has not finished`);
    const why = baseMismatch(rec, base, 'use it');
    if (why) throw new Error(why);
    const m = getMethod(rec.plan.method.name);
    if (!m.importFiles) throw new Error(`${m.name} runs cannot be re-applied`);
    const state = await m.importFiles(base.model, rec.files, { seed: rec.request.seed, trainer: rec.plan.trainer, shape: rec.plan.shape, baseModel: base.name });
    try {
      return await job(state, base);
    } finally {
      const inPlace = state.modifiesBase ?? true;
      state.dispose();
      if (inPlace) await this.host.reloadBase();
    }
  }

  /**
   * Register a run finished earlier (its files kept by the page, say across a reload) under
   * `id`, so that export and generation work with it again. It must have trained on the
   * loaded base.
   */
  restore(id: string, req: RunRequestData, baseName: string, files: ExportFile[], exportFormats: readonly string[], basePrecision?: BasePrecision): void {
    const base = this.requireBase();
    const why = baseMismatch({ id, baseName, basePrecision }, base, 'use it');
    if (why) throw new Error(why);
    const plan = this.plan(req, base);
    this.runs.set(id, { id, request: req, plan, control: new RunControl(), phase: 'done', files, exportFormats, baseName, basePrecision });
    const n = Number(/^run-(\d+)$/.exec(id)?.[1] ?? 0);
    if (n >= this.nextId) this.nextId = n + 1;
  }

  checkpoint(id: string): Uint8Array {
    const c = this.record(id).checkpoint;
    if (!c) throw new Error(`run ${id} has no checkpoint yet`);
    return c;
  }
}
