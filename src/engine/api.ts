// The engine's API as the page sees it, served by workers/trainer.worker.ts through comlink.
// Everything here is structured-clone data; errors thrown by the worker arrive with their
// name and message (comlink's throw handler). Events reach the page through a callback
// passed with comlink's `proxy`.

import type { AdapterSummary, GpuEvent } from './gpu/gpu.ts';
import type { LedgerSnapshot } from './gpu/ledger.ts';

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

export type EngineEvent = GpuEvent | { type: 'ledger'; ledger: LedgerSnapshot };

export interface EngineApi {
  /** Acquire the WebGPU device (once) and describe it; never throws. */
  probe(): Promise<ProbeResult>;
  /** Run a kernel in the worker against its CPU reference. Throws if there is no device. */
  selfTest(): Promise<SelfTestResult>;
  /** Receive device events and ledger changes. */
  subscribe(listener: (e: EngineEvent) => void): void;
}

export function errorInfo(e: unknown): ErrorInfo {
  return e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
}
