// Method slice: the training methods the worker offers (each with its config schema), the
// trainer's schema, and the run the forms describe: the chosen method, config edits per
// method, trainer edits (shared, or per method for the fields a method sets defaults for,
// such as MeZO's learning rate), B / T / seed, presets, and the pre-flight memory estimate.

import type { StateCreator } from 'zustand';
import { errorInfo, type ErrorInfo, type EstimateResult, type MethodInfo, type RunRequestData } from '../../engine/api.ts';
import type { Schema } from '../../engine/config/schema.ts';
import { SHAPE_FIELDS, toRaw, type Raw, type RawValues, type Shape } from './draft.ts';
import { getEngine } from '../engine.ts';
import type { Store } from './index.ts';

export interface MethodSlice {
  methodsStatus: 'none' | 'loading' | 'ready' | 'error';
  methods: MethodInfo[];
  trainerSchema?: Schema;
  methodsError?: ErrorInfo;
  /** Chosen method's name. */
  method: string;
  configEdits: Record<string, RawValues>;
  trainerShared: RawValues;
  trainerOwn: Record<string, RawValues>;
  shape: Shape;
  presetId?: string;
  estimate?: EstimateResult;
  /** JSON of the request the estimate is for. */
  estimateKey?: string;
  estimating: boolean;
  loadMethods(): Promise<void>;
  selectMethod(name: string): void;
  setConfigField(method: string, key: string, v: Raw): void;
  setTrainerField(key: string, v: Raw): void;
  setShapeField(key: keyof Shape, v: string): void;
  applyPreset(id: string): void;
  runEstimate(req: RunRequestData): Promise<void>;
}

let estimateSeq = 0;

export const createMethodSlice: StateCreator<Store, [], [], MethodSlice> = (set, get) => ({
  methodsStatus: 'none',
  methods: [],
  method: 'lora',
  configEdits: {},
  trainerShared: {},
  trainerOwn: {},
  shape: { B: String(SHAPE_FIELDS.B.default), T: String(SHAPE_FIELDS.T.default), seed: String(SHAPE_FIELDS.seed.default) },
  estimating: false,

  async loadMethods() {
    if (get().methodsStatus === 'loading' || get().methodsStatus === 'ready') return;
    set({ methodsStatus: 'loading' });
    try {
      const { methods, trainer } = await getEngine().listMethods();
      const method = methods.some((m) => m.name === get().method) ? get().method : (methods[0]?.name ?? '');
      set({ methodsStatus: 'ready', methods, trainerSchema: trainer, method });
    } catch (e) {
      set({ methodsStatus: 'error', methodsError: errorInfo(e) });
    }
  },

  selectMethod(name) {
    set({ method: name, presetId: undefined });
  },

  setConfigField(method, key, v) {
    set((s) => ({ configEdits: { ...s.configEdits, [method]: { ...s.configEdits[method], [key]: v } }, presetId: undefined }));
  },

  setTrainerField(key, v) {
    const s = get();
    const info = s.methods.find((m) => m.name === s.method);
    if (info && key in info.trainerDefaults) set({ trainerOwn: { ...s.trainerOwn, [s.method]: { ...s.trainerOwn[s.method], [key]: v } } });
    else set({ trainerShared: { ...s.trainerShared, [key]: v } });
  },

  setShapeField(key, v) {
    set((s) => ({ shape: { ...s.shape, [key]: v } }));
  },

  applyPreset(id) {
    const m = get().methods.find((x) => x.presets.some((p) => p.id === id));
    const p = m?.presets.find((x) => x.id === id);
    if (!m || !p) return;
    const config: RawValues = {};
    for (const [k, v] of Object.entries(p.config)) config[k] = toRaw(v);
    set((s) => ({ method: m.name, presetId: id, configEdits: { ...s.configEdits, [m.name]: config } }));
  },

  async runEstimate(req) {
    const key = JSON.stringify(req);
    const seq = ++estimateSeq;
    set({ estimating: true });
    try {
      const r = await getEngine().estimateRun(req);
      if (seq === estimateSeq) set({ estimate: r, estimateKey: key, estimating: false });
    } catch (e) {
      if (seq === estimateSeq)
        set({
          estimate: { bytes: { weights: 0, adapter: 0, gradients: 0, optimizer: 0, activations: 0, scratch: 0, total: 0 }, ok: false, error: errorInfo(e) },
          estimateKey: key,
          estimating: false,
        });
    }
  },
});
