// The engine's API as the page sees it, served by workers/trainer.worker.ts through comlink.
// Everything here is structured-clone data; errors thrown by the worker arrive with their
// name and message (comlink's throw handler). Events reach the page through a callback
// passed with comlink's `proxy`.

import type { AdapterSummary, GpuEvent } from './gpu/gpu.ts';
import type { LedgerSnapshot } from './gpu/ledger.ts';
import type { BasePrecision } from './model/decoder.ts';
import type { FieldMapping } from './data/dataset.ts';
import type { ExportFile } from './methods/types.ts';
import type { DatasetPreview, DatasetSummary, EstimateResult, MethodInfo, PreviewSettings, RunEvent, RunRequestData } from './runs.ts';
import type { Schema } from './config/schema.ts';

export type { DatasetPreview, DatasetSummary, EstimateResult, MethodInfo, PreviewSettings, RunEvent, RunRequestData } from './runs.ts';

export interface ErrorInfo {
  name: string;
  message: string;
}

export type ProbeResult = { ok: true; adapter: AdapterSummary; ledger: LedgerSnapshot } | { ok: false; error: ErrorInfo };

export interface SelfTestResult {
  kernel: string;
  n: number;
  maxAbsError: number;
  ms: number;
  ledger: LedgerSnapshot;
}

export type EngineEvent =
  | GpuEvent
  | { type: 'ledger'; ledger: LedgerSnapshot }
  | { type: 'load'; tensor: string; loaded: number; total: number }
  /** A Hub file downloading into the cache (bytes so far), or found whole there (`fromCache`). */
  | { type: 'download'; file: string; loaded: number; total?: number; fromCache: boolean; target?: 'model' | 'dataset' }
  /** A generated token; `tag` is the GenerateRequest's, so each view takes only its own. */
  | { type: 'token'; id: number; text: string; tag?: string }
  | RunEvent;

export interface ModelSummary {
  name: string;
  architecture: string;
  parameters: number;
  layers: number;
  hidden: number;
  vocab: number;
  precision: BasePrecision;
  /** Weight bytes on the GPU (ledger). */
  weightBytes: number;
  /** Weight bytes the model would take at each base precision (from its config). */
  bytesByPrecision: Record<BasePrecision, number>;
}

/** A model repo on the Hugging Face Hub (or a server in its URL layout). */
export interface HubRequest {
  /** "owner/name". */
  repo: string;
  /** Branch, tag or commit; "main" when empty. */
  revision?: string;
  /** Access token for private or gated repos; sent only to `endpoint`. */
  token?: string;
  /** Base URL of the Hub; https://huggingface.co when empty (mirrors, self-hosted hubs, tests). */
  endpoint?: string;
}

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** A dataset repo on the Hub (or a server in its URL layout), read from its Parquet files. */
export interface HubDatasetRequest {
  /** "owner/name", as in huggingface.co/datasets/owner/name. */
  repo: string;
  /** Branch, tag or commit; "main" when empty. */
  revision?: string;
  /** A config (subset) name; "default" / empty: every Parquet file of the split. */
  config?: string;
  /** "train" when empty (or every file when no file is in a "train" split). */
  split?: string;
  token?: string;
  endpoint?: string;
  /** Read at most this many rows (the first ones, file by file); 50,000 when absent. */
  maxRows?: number;
}

export interface GenerateRequest {
  prompt: string;
  /** Generate with a finished run's adapter (or trained weights) applied; the base without. */
  runId?: string;
  /** Copied onto this generation's 'token' events (which view asked for it). */
  tag?: string;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

export interface GenerateResult {
  text: string;
  tokens: number;
  ms: number;
}

export interface EngineApi {
  /** Acquire the WebGPU device (once) and describe it; never throws. */
  probe(): Promise<ProbeResult>;
  /** Run a kernel in the worker against its CPU reference. Throws if there is no device. */
  selfTest(): Promise<SelfTestResult>;
  /** Receive device events, ledger changes, load progress and generated tokens. */
  subscribe(listener: (e: EngineEvent) => void): void;
  /**
   * Load a model from files the user picked or dropped (a Hugging Face model folder's files,
   * matched by base name). `name` is shown as the source; by default the picked folder's name.
   */
  loadModel(files: File[], precision: BasePrecision, name?: string): Promise<ModelSummary>;
  /**
   * Download a Hub repo's model files into the browser's cache (OPFS; resumed where a
   * download broke off, skipped when whole) with 'download' events per file, then load it
   * as loadModel does. HubError names the repo and file on 404, 401/403 and network failures.
   */
  loadHub(req: HubRequest, precision: BasePrecision): Promise<ModelSummary>;
  /** Bytes in the Hub file cache. */
  cacheUsage(): Promise<number>;
  /** Empty the Hub file cache (queued behind running loads and generations). */
  clearCache(): Promise<void>;
  /** Load a built-in model served with the page (public/models/<name>). */
  loadBuiltin(name: string, precision: BasePrecision): Promise<ModelSummary>;
  /** Continue `prompt` with the loaded model (or a finished run's); tokens stream as 'token' events. */
  generate(req: GenerateRequest): Promise<GenerateResult>;
  /** Every training method with its config schema, and the trainer's schema. */
  listMethods(): Promise<{ methods: MethodInfo[]; trainer: Schema }>;
  /** Parse a dataset file's text (JSONL, JSON, CSV, TXT); unreadable rows are listed by line. */
  loadDataset(name: string, content: string, mapping?: FieldMapping): Promise<DatasetSummary>;
  /**
   * Parse a dataset file's bytes, by extension: .parquet as Parquet (the first 50,000 rows;
   * bad rows listed by row number), anything else decoded as UTF-8 text as loadDataset does.
   */
  loadDatasetFile(name: string, bytes: Uint8Array, mapping?: FieldMapping): Promise<DatasetSummary>;
  /**
   * List a Hub dataset's Parquet files for a config and split, download them into the Hub
   * cache ('download' events per file, as for models) until maxRows rows are read, and parse
   * them. HubError names the repo on 404, 401/403 and when no Parquet file matches.
   */
  loadHubDataset(req: HubDatasetRequest, mapping?: FieldMapping): Promise<DatasetSummary>;
  /**
   * The first rows of a dataset as the loaded model's tokenizer will see them (chat template or
   * the plain format), split into trained and masked spans, with token counts and the length
   * histogram. Throws when no model is loaded.
   */
  previewDataset(datasetId: string, settings: PreviewSettings): Promise<DatasetPreview>;
  /** A sample dataset served with the page (public/datasets/<name>.jsonl). */
  loadBuiltinDataset(name: string): Promise<DatasetSummary>;
  /** Memory per ledger category a run would need on the loaded model, and whether it can start. */
  estimateRun(req: RunRequestData): Promise<EstimateResult>;
  /** The request with its method's settings fitted to the loaded base, and what changed. */
  fitRun(req: RunRequestData): Promise<{ request: RunRequestData; note?: string }>;
  /** Check and queue a run; returns its id. Progress arrives as 'run' and 'train' events. */
  startRun(req: RunRequestData): Promise<string>;
  pauseRun(id: string): Promise<void>;
  resumeRun(id: string): Promise<void>;
  stopRun(id: string): Promise<void>;
  /** A finished run's files in an export format of its method (default: its first). */
  exportRun(id: string, format?: string): Promise<ExportFile[]>;
  /** Re-register a run finished before (its default export kept by the page, e.g. across a
   *  reload) so exportRun and generate({ runId }) work with it; it must match the loaded base. */
  restoreRun(id: string, req: RunRequestData, baseName: string, files: ExportFile[], exportFormats: string[], basePrecision?: BasePrecision): Promise<void>;
}

export function errorInfo(e: unknown): ErrorInfo {
  return e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
}
