// Model slice: a model folder the user picked or dropped, a Hub repo downloaded into the
// browser's cache (progress per file), or a built-in model, loaded in the worker; and text
// generated from it with tokens streaming in.

import type { StateCreator } from 'zustand';
import { errorInfo, type EngineEvent, type ErrorInfo, type GenerateRequest, type GenerateResult, type HubRequest, type ModelSummary } from '../../engine/api.ts';
import type { BasePrecision } from '../../engine/model/decoder.ts';
import { getEngine } from '../engine.ts';
import type { Store } from './index.ts';

/** One Hub file of the current load: bytes so far, or whole from the cache. */
export interface DownloadState {
  loaded: number;
  total?: number;
  fromCache: boolean;
}

export interface ModelSlice {
  modelStatus: 'none' | 'loading' | 'ready' | 'error';
  /** The base precision picked in the model panel (the next load's). */
  basePrecision: BasePrecision;
  setBasePrecision(p: BasePrecision): void;
  model?: ModelSummary;
  loadProgress: number;
  modelError?: ErrorInfo;
  generating: boolean;
  generated: string;
  genResult?: GenerateResult;
  /** Hub files of the current load in the order they started (a new array only when one is added). */
  downloadFiles: string[];
  downloads: Record<string, DownloadState>;
  /** Bytes in the Hub file cache; undefined until asked. */
  cacheBytes?: number;
  cacheError?: ErrorInfo;
  loadModel(files: File[], precision: BasePrecision, name?: string): Promise<void>;
  loadBuiltin(name: string, precision: BasePrecision): Promise<void>;
  loadHub(req: HubRequest, precision: BasePrecision): Promise<void>;
  refreshCacheUsage(): Promise<void>;
  clearCache(): Promise<void>;
  generate(req: GenerateRequest): Promise<void>;
  onModelEvent(e: Extract<EngineEvent, { type: 'load' | 'token' | 'download' }>): void;
}

/** The tag of "Try it" generations' token events (the playground tags its own). */
const TRY_IT_TAG = 'try-it';

export const createModelSlice: StateCreator<Store, [], [], ModelSlice> = (set, get) => {
  const loading = async (job: () => Promise<ModelSummary>) => {
    set({ modelStatus: 'loading', loadProgress: 0, modelError: undefined, generated: '', genResult: undefined, downloadFiles: [], downloads: {} });
    try {
      const model = await job();
      set({ modelStatus: 'ready', model, loadProgress: 1 });
    } catch (e) {
      set({ modelStatus: 'error', modelError: errorInfo(e), model: undefined });
    }
  };
  return {
    modelStatus: 'none',
    basePrecision: 'f32',
    setBasePrecision(p) {
      set({ basePrecision: p });
    },
    loadProgress: 0,
    generating: false,
    generated: '',
    downloadFiles: [],
    downloads: {},

    loadModel(files, precision, name) {
      return loading(() => getEngine().loadModel(files, precision, name));
    },

    async loadHub(req, precision) {
      await loading(() => getEngine().loadHub(req, precision));
      await get().refreshCacheUsage();
    },

    async refreshCacheUsage() {
      try {
        set({ cacheBytes: await getEngine().cacheUsage(), cacheError: undefined });
      } catch (e) {
        set({ cacheError: errorInfo(e) });
      }
    },

    async clearCache() {
      try {
        await getEngine().clearCache();
        set({ cacheError: undefined });
      } catch (e) {
        set({ cacheError: errorInfo(e) });
      }
      await get().refreshCacheUsage();
    },

    loadBuiltin(name, precision) {
      return loading(() => getEngine().loadBuiltin(name, precision));
    },

    async generate(req) {
      set({ generating: true, generated: '', genResult: undefined, modelError: undefined });
      try {
        const r = await getEngine().generate({ ...req, tag: TRY_IT_TAG });
        // The final decode of all tokens at once is exact where per-token pieces are not
        // (byte-fallback tokens only form characters together).
        set({ generating: false, genResult: r, generated: r.text });
      } catch (e) {
        set({ generating: false, modelError: errorInfo(e) });
      }
    },

    onModelEvent(e) {
      if (e.type === 'load') set({ loadProgress: e.loaded / e.total });
      else if (e.type === 'download') {
        const { file, loaded, total, fromCache } = e;
        set((s) => ({
          downloadFiles: file in s.downloads ? s.downloadFiles : [...s.downloadFiles, file],
          downloads: { ...s.downloads, [file]: { loaded, total, fromCache } },
        }));
      } else if (e.tag === TRY_IT_TAG) set((s) => (s.generating ? { generated: s.generated + e.text } : {})); // late tokens: the exact text is in
    },
  };
};
