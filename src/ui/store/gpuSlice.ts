// GPU slice: the adapter the worker found (or why there is none), the kernel self-test,
// and the live memory ledger.

import { proxy } from 'comlink';
import type { StateCreator } from 'zustand';
import { errorInfo, type EngineEvent, type ErrorInfo, type SelfTestResult } from '../../engine/api.ts';
import type { SuiteResult } from '../../engine/bench/suite.ts';
import type { AdapterSummary } from '../../engine/gpu/gpu.ts';
import type { LedgerSnapshot } from '../../engine/gpu/ledger.ts';
import { getEngine } from '../engine.ts';
import type { Store } from './index.ts';

export type GpuStatus = 'idle' | 'probing' | 'ready' | 'unavailable' | 'error';

export interface GpuSlice {
  gpuStatus: GpuStatus;
  adapter?: AdapterSummary;
  gpuError?: ErrorInfo;
  ledger?: LedgerSnapshot;
  selfTest?: SelfTestResult;
  selfTestRunning: boolean;
  deviceMessages: string[];
  /** "Benchmark this GPU": the last result, whether one is running, why it failed. */
  bench?: SuiteResult;
  benchRunning: boolean;
  benchError?: ErrorInfo;
  probe(): Promise<void>;
  runSelfTest(): Promise<void>;
  runBenchmark(): Promise<void>;
}

export const createGpuSlice: StateCreator<Store, [], [], GpuSlice> = (set, get) => ({
  gpuStatus: 'idle',
  selfTestRunning: false,
  deviceMessages: [],
  benchRunning: false,

  async probe() {
    if (get().gpuStatus === 'probing') return;
    set({ gpuStatus: 'probing', gpuError: undefined });
    try {
      const engine = getEngine();
      const r = await engine.probe();
      if (!r.ok) {
        set({ gpuStatus: r.error.name === 'WebGpuUnavailableError' ? 'unavailable' : 'error', gpuError: r.error });
        return;
      }
      set({ gpuStatus: 'ready', adapter: r.adapter, ledger: r.ledger });
      await engine.subscribe(
        proxy((e: EngineEvent) => {
          if (e.type === 'ledger') set({ ledger: e.ledger });
          else if (e.type === 'lost') set({ gpuStatus: 'error', gpuError: { name: 'DeviceLostError', message: `GPU device lost (${e.reason}): ${e.message}` } });
          else if (e.type === 'error') set((s) => ({ deviceMessages: [...s.deviceMessages.slice(-9), `${e.kind}: ${e.message}`] }));
          // Tagged by the worker: this callback and a call's reply travel on different ports, so
          // the last progress event of a dataset can arrive after its load has returned.
          else if (e.type === 'download' && e.target === 'dataset') get().onDataDownload(e);
          else if (e.type === 'load' || e.type === 'token' || e.type === 'download') get().onModelEvent(e);
          else if (e.type === 'run' || e.type === 'train') get().onRunEvent(e);
        }),
      );
    } catch (e) {
      set({ gpuStatus: 'error', gpuError: errorInfo(e) });
    }
  },

  async runBenchmark() {
    if (get().benchRunning) return;
    set({ benchRunning: true, benchError: undefined });
    try {
      set({ bench: await getEngine().benchmark(), benchRunning: false });
    } catch (e) {
      set({ benchRunning: false, benchError: errorInfo(e) });
    }
  },

  async runSelfTest() {
    set({ selfTestRunning: true });
    try {
      const r = await getEngine().selfTest();
      set({ selfTest: r, ledger: r.ledger, selfTestRunning: false });
    } catch (e) {
      set({ selfTestRunning: false, gpuError: errorInfo(e) });
    }
  },
});
