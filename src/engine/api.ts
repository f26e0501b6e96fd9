// The engine's API as the page sees it, served by workers/trainer.worker.ts through comlink.
// Everything here is structured-clone data; errors thrown by the worker arrive with their
// name and message (comlink's throw handler). Events reach the page through a callback
// passed with comlink's `proxy`.

import type { AdapterSummary, GpuEvent } from './gpu/gpu.ts';
import type { LedgerSnapshot } from './gpu/ledger.ts';
import type { BasePrecision } from './model/decoder.ts';

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
  | { type: 'token'; id: number; text: string };

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
}

export interface GenerateRequest {
  prompt: string;
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
  /** Load a model from files the user picked (a Hugging Face model folder's files). */
  loadModel(files: File[], precision: BasePrecision): Promise<ModelSummary>;
  /** Load a built-in model served with the page (public/models/<name>). */
  loadBuiltin(name: string, precision: BasePrecision): Promise<ModelSummary>;
  /** Continue `prompt` with the loaded model; tokens stream as 'token' events. */
  generate(req: GenerateRequest): Promise<GenerateResult>;
}

export function errorInfo(e: unknown): ErrorInfo {
  return e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
}
