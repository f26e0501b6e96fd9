// Model slice: a model folder the user picked, loaded in the worker, and text generated
// from it with tokens streaming in.

import type { StateCreator } from 'zustand';
import { errorInfo, type EngineEvent, type ErrorInfo, type GenerateRequest, type GenerateResult, type ModelSummary } from '../../engine/api.ts';
import type { BasePrecision } from '../../engine/model/decoder.ts';
import { getEngine } from '../engine.ts';
import type { Store } from './index.ts';

export interface ModelSlice {
  modelStatus: 'none' | 'loading' | 'ready' | 'error';
  model?: ModelSummary;
  loadProgress: number;
  modelError?: ErrorInfo;
  generating: boolean;
  generated: string;
  genResult?: GenerateResult;
  loadModel(files: File[], precision: BasePrecision): Promise<void>;
  loadBuiltin(name: string, precision: BasePrecision): Promise<void>;
  generate(req: GenerateRequest): Promise<void>;
  onModelEvent(e: Extract<EngineEvent, { type: 'load' | 'token' }>): void;
}

export const createModelSlice: StateCreator<Store, [], [], ModelSlice> = (set) => {
  const loading = async (job: () => Promise<ModelSummary>) => {
    set({ modelStatus: 'loading', loadProgress: 0, modelError: undefined, generated: '', genResult: undefined });
    try {
      const model = await job();
      set({ modelStatus: 'ready', model, loadProgress: 1 });
    } catch (e) {
      set({ modelStatus: 'error', modelError: errorInfo(e), model: undefined });
    }
  };
  return {
    modelStatus: 'none',
    loadProgress: 0,
    generating: false,
    generated: '',

    loadModel(files, precision) {
      return loading(() => getEngine().loadModel(files, precision));
    },

    loadBuiltin(name, precision) {
      return loading(() => getEngine().loadBuiltin(name, precision));
    },

    async generate(req) {
      set({ generating: true, generated: '', genResult: undefined, modelError: undefined });
      try {
        const r = await getEngine().generate(req);
        // The final decode of all tokens at once is exact where per-token pieces are not
        // (byte-fallback tokens only form characters together).
        set({ generating: false, genResult: r, generated: r.text });
      } catch (e) {
        set({ generating: false, modelError: errorInfo(e) });
      }
    },

    onModelEvent(e) {
      if (e.type === 'load') set({ loadProgress: e.loaded / e.total });
      else set((s) => ({ generated: s.generated + e.text }));
    },
  };
};
