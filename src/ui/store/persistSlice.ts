// Persist slice: finished runs kept in the browser (src/ui/persist.ts, IndexedDB) so they
// are listed after a reload; re-registered in the worker (restoreRun) when the model they
// trained on is loaded, so export and the playground work with them again; delete, storage
// used; a rename (the runs slice's renameRun) of a stored run is saved as it happens. And the side-by-side playground: one prompt through the base and chosen
// runs, one generation after another; each tags its request, so its 'token' events reach
// only its own column (and never the "Try it" panel).

import { proxy } from 'comlink';
import type { StateCreator } from 'zustand';
import { errorInfo, type EngineEvent, type ErrorInfo, type GenerateRequest } from '../../engine/api.ts';
import type { ExportFile } from '../../engine/methods/types.ts';
import type { BasePrecision } from '../../engine/model/decoder.ts';
import { getEngine } from '../engine.ts';
import {
  deleteStoredRun, loadFiles, loadStoredRuns, newSessionTag, recordBytes, saveRun, storageEstimate, storageKey,
} from '../persist.ts';
import type { Store } from './index.ts';
import type { RunView } from './runTypes.ts';

/** The base model's column in the playground. */
export const BASE_TARGET = 'base';
/** Token events of playground generations are tagged `${PLAY_TAG}<target>`. */
const PLAY_TAG = 'play:';

export interface PlayOutput {
  text: string;
  status: 'queued' | 'running' | 'done' | 'error';
  tokens?: number;
  ms?: number;
  error?: string;
}

export interface PersistSlice {
  persistStatus: 'idle' | 'loading' | 'ready' | 'error';
  persistError?: ErrorInfo;
  /** Page run id → the key it is stored under (absent: not stored). */
  storedKeys: Record<string, string>;
  /** Our own byte count per stored run (JSON record + export files). */
  storedBytes: Record<string, number>;
  /** Runs loaded from storage at page start (the worker does not know them until restored). */
  fromStorage: Record<string, true>;
  /** Stored runs re-registered in this page's worker. */
  restored: Record<string, true>;
  restoreErrors: Record<string, string>;
  /** navigator.storage.estimate() for this origin. */
  storageUsage?: number;
  storageQuota?: number;
  /** The browser agreed to keep this site's storage under pressure (navigator.storage.persist). */
  storagePersisted?: boolean;
  playOutputs: Record<string, PlayOutput>;
  /** The prompt of the last side-by-side generation. */
  playPrompt: string;
  playing: boolean;

  /** Load stored runs into the page and start watching runs and the model (once). */
  initPersist(): Promise<void>;
  deleteRun(id: string): Promise<void>;
  refreshStorage(): Promise<void>;
  /** The default export of a run from storage (works without the model loaded). */
  storedFiles(id: string): Promise<{ format: string; files: ExportFile[] } | undefined>;
  /** One prompt through each target (BASE_TARGET or a run id), one after another. */
  playAll(req: Omit<GenerateRequest, 'runId'>, targets: string[]): Promise<void>;
}

/** The worker can export this run and generate with it now: it finished in this page
 *  session or was restored, and its base model is the loaded one. */
export function runUsable(s: Store, id: string): boolean {
  const r = s.runs[id];
  if (!r || (r.phase !== 'done' && r.phase !== 'stopped')) return false;
  if (s.modelStatus !== 'ready' || s.model?.name !== r.model.name) return false;
  if (r.model.precision && s.model.precision !== r.model.precision) return false; // the same model held otherwise: its outputs differ
  return !s.fromStorage[id] || !!s.restored[id];
}

const FINISHED = new Set(['done', 'stopped', 'failed']);
const PRECISIONS: readonly BasePrecision[] = ['f32', 'q8', 'q4', 'nf4'];

export const createPersistSlice: StateCreator<Store, [], [], PersistSlice> = (set, get, api) => {
  const session = newSessionTag();
  let started = false;
  /** Runs being saved now (their export is read from the worker first). */
  const saving = new Set<string>();
  /** Runs whose save failed (not retried on every change; the error is shown). */
  const unsaved = new Set<string>();

  const patchRun = (id: string, p: Partial<RunView>) =>
    set((s) => (s.runs[id] ? { runs: { ...s.runs, [id]: { ...s.runs[id], ...p } } } : {}));

  async function persist(id: string): Promise<void> {
    const view = get().runs[id];
    if (!view || saving.has(id)) return;
    saving.add(id);
    try {
      const key = get().storedKeys[id] ?? storageKey(id, session);
      let files: ExportFile[] | undefined;
      let format: string | undefined;
      if (view.phase !== 'failed' && !get().fromStorage[id]) {
        format = view.exportFormats?.[0];
        // A run stopped before it started has no files: keep its record only.
        files = await getEngine().exportRun(id).catch(() => undefined);
      }
      const exportBytes = files?.reduce((a, f) => a + f.bytes.byteLength, 0);
      const latest = { ...(get().runs[id] ?? view), ...(files ? { exportBytes, stored: true } : {}) };
      await saveRun({ ...latest, id: key }, files && { id: key, format: format ?? 'default', files });
      if (files) patchRun(id, { exportBytes, stored: true });
      if (get().storagePersisted === undefined) {
        // Ask once that stored runs are not evicted under storage pressure (no prompt in Chromium).
        const ok = await navigator.storage?.persist?.().catch(() => false);
        set({ storagePersisted: !!ok });
      }
      set((s) => ({ storedKeys: { ...s.storedKeys, [id]: key }, storedBytes: { ...s.storedBytes, [id]: recordBytes(latest, files) } }));
      await get().refreshStorage();
    } catch (e) {
      unsaved.add(id);
      set({ persistError: errorInfo(e) });
    } finally {
      saving.delete(id);
    }
  }

  async function restoreFor(modelName: string, precision: string): Promise<void> {
    const s = get();
    for (const id of Object.keys(s.fromStorage)) {
      const r = s.runs[id];
      if (!r || s.restored[id] || r.model.name !== modelName || (r.phase !== 'done' && r.phase !== 'stopped')) continue;
      const basePrecision = PRECISIONS.find((p) => p === r.model.precision);
      if (basePrecision && basePrecision !== precision) continue; // offered as "load it as …" instead
      try {
        const stored = await loadFiles(s.storedKeys[id] ?? id);
        if (!stored) throw new Error('its files are not in storage');
        await getEngine().restoreRun(id, r.request, r.model.name, stored.files, r.exportFormats ?? [stored.format], basePrecision);
        set((x) => ({ restored: { ...x.restored, [id]: true }, restoreErrors: omit(x.restoreErrors, id) }));
      } catch (e) {
        set((x) => ({ restoreErrors: { ...x.restoreErrors, [id]: errorInfo(e).message } }));
      }
    }
  }

  function saveFinished(s: Store): void {
    for (const id of Object.keys(s.runs)) {
      if (FINISHED.has(s.runs[id].phase) && !(id in s.storedKeys) && !saving.has(id) && !unsaved.has(id)) void persist(id);
    }
  }

  function watch(): void {
    // Finished runs are saved once; a later change to a saved one (its label) is saved again.
    api.subscribe((s, prev) => {
      if (s.runs !== prev.runs) {
        saveFinished(s);
        for (const id of Object.keys(s.runs)) {
          const key = s.storedKeys[id];
          if (key && prev.runs[id] && prev.runs[id].label !== s.runs[id].label) void saveRun({ ...s.runs[id], id: key }).catch((e) => set({ persistError: errorInfo(e) }));
        }
      }
      if (s.model !== prev.model && s.modelStatus === 'ready' && s.model) void restoreFor(s.model.name, s.model.precision);
    });
    void getEngine().subscribe(
      proxy((e: EngineEvent) => {
        if (e.type !== 'token' || e.tag === undefined || !e.tag.startsWith(PLAY_TAG)) return;
        const key = e.tag.slice(PLAY_TAG.length);
        if (get().playOutputs[key]?.status !== 'running') return; // a late token of a finished one: its exact text is in
        set((x) => ({ playOutputs: { ...x.playOutputs, [key]: { ...x.playOutputs[key], text: x.playOutputs[key].text + e.text } } }));
      }),
    );
  }

  return {
    persistStatus: 'idle',
    storedKeys: {},
    storedBytes: {},
    fromStorage: {},
    restored: {},
    restoreErrors: {},
    playOutputs: {},
    playPrompt: '',
    playing: false,

    async initPersist() {
      if (started) return;
      started = true;
      set({ persistStatus: 'loading' });
      try {
        const stored = await loadStoredRuns();
        const views = stored.map((x) => x.run.view).filter((v) => !get().runs[v.id]);
        get().putRuns(views);
        set((s) => ({
          fromStorage: { ...s.fromStorage, ...Object.fromEntries(views.map((v) => [v.id, true as const])) },
          storedKeys: { ...s.storedKeys, ...Object.fromEntries(views.map((v) => [v.id, v.id])) },
          storedBytes: { ...s.storedBytes, ...Object.fromEntries(stored.map((x) => [x.run.view.id, recordBytes(x.run.view) + x.fileBytes])) },
          persistStatus: 'ready',
        }));
      } catch (e) {
        set({ persistStatus: 'error', persistError: errorInfo(e) });
      }
      watch();
      const s = get();
      if (s.modelStatus === 'ready' && s.model) void restoreFor(s.model.name, s.model.precision);
      saveFinished(s); // runs that finished before we were watching
      await get().refreshStorage();
    },

    async deleteRun(id) {
      const s = get();
      const r = s.runs[id];
      if (r && !FINISHED.has(r.phase)) return; // stop it first
      const key = s.storedKeys[id];
      try {
        if (key) await deleteStoredRun(key);
      } catch (e) {
        set({ persistError: errorInfo(e) });
        return;
      }
      set((x) => {
        const runs = { ...x.runs };
        delete runs[id];
        return {
          runs,
          runOrder: x.runOrder.filter((k) => k !== id),
          chartRuns: x.chartRuns.filter((k) => k !== id),
          storedKeys: omit(x.storedKeys, id),
          storedBytes: omit(x.storedBytes, id),
          fromStorage: omit(x.fromStorage, id),
          restored: omit(x.restored, id),
          restoreErrors: omit(x.restoreErrors, id),
          playOutputs: omit(x.playOutputs, id),
        };
      });
      await get().refreshStorage();
    },

    async refreshStorage() {
      const e = await storageEstimate();
      set({ storageUsage: e.usage, storageQuota: e.quota });
    },

    async storedFiles(id) {
      const key = get().storedKeys[id];
      if (!key) return undefined;
      const f = await loadFiles(key);
      return f && { format: f.format, files: f.files };
    },

    async playAll(req, targets) {
      if (get().playing || targets.length === 0) return;
      set({ playing: true, playPrompt: req.prompt, playOutputs: Object.fromEntries(targets.map((t) => [t, { text: '', status: 'queued' as const }])) });
      for (const t of targets) {
        set((x) => ({ playOutputs: { ...x.playOutputs, [t]: { text: '', status: 'running' } } }));
        try {
          const r = await getEngine().generate({ ...req, tag: `${PLAY_TAG}${t}`, ...(t === BASE_TARGET ? {} : { runId: t }) });
          // The final decode of all tokens together is exact where streamed pieces are not.
          set((x) => ({ playOutputs: { ...x.playOutputs, [t]: { text: r.text, status: 'done', tokens: r.tokens, ms: r.ms } } }));
        } catch (e) {
          set((x) => ({ playOutputs: { ...x.playOutputs, [t]: { ...x.playOutputs[t], status: 'error', error: errorInfo(e).message } } }));
        }
      }
      set({ playing: false });
    },
  };
};

function omit<T>(o: Record<string, T>, k: string): Record<string, T> {
  if (!(k in o)) return o;
  const c = { ...o };
  delete c[k];
  return c;
}
