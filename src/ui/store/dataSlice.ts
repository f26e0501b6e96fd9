// Data slice: the dataset the runs train on (a file the user picked or dropped, its bytes
// sent to the worker and parsed there, a Hugging Face dataset by id, or a built-in sample),
// its summary with the unreadable rows by line, the data settings every run of the page uses,
// and the preview of what the model will see (built in the worker with the model's tokenizer).

import type { StateCreator } from 'zustand';
import { transfer } from 'comlink';
import { errorInfo, type DatasetPreview, type DatasetSummary, type EngineEvent, type ErrorInfo, type HubDatasetRequest, type PreviewSettings } from '../../engine/api.ts';
import type { FieldMapping } from '../../engine/data/dataset.ts';
import type { DataSettings } from '../../engine/runs.ts';
import { getEngine } from '../engine.ts';
import type { Store } from './index.ts';
import type { DownloadState } from './modelSlice.ts';

export type DataChoice =
  | { kind: 'builtin'; name: string }
  | { kind: 'hub'; req: HubDatasetRequest; mapping?: FieldMapping }
  | { kind: 'file'; name: string };

export interface DataSlice {
  dataStatus: 'none' | 'loading' | 'ready' | 'error';
  dataset?: DatasetSummary;
  dataError?: ErrorInfo;
  dataSettings: DataSettings;
  /** Where the loaded dataset came from, for a reload to load it again (a file's bytes are
   *  not kept: the page names it and asks for it). */
  dataChoice?: DataChoice;
  /** Files of the current Hub dataset load, in the order they started. */
  dataDownloadFiles: string[];
  dataDownloads: Record<string, DownloadState>;
  preview?: DatasetPreview;
  previewError?: ErrorInfo;
  previewStatus: 'none' | 'loading' | 'ready' | 'error';
  /** Parse a file's text in the worker (JSONL, JSON, CSV, TXT), with an optional field mapping. */
  loadDatasetText(name: string, content: string, mapping?: FieldMapping): Promise<void>;
  /** Parse a file's bytes in the worker (.parquet as Parquet, others as UTF-8 text). */
  loadDatasetFile(name: string, bytes: Uint8Array, mapping?: FieldMapping): Promise<void>;
  loadHubDataset(req: HubDatasetRequest, mapping?: FieldMapping): Promise<void>;
  loadBuiltinDataset(name: string): Promise<void>;
  setDataSettings(p: Partial<DataSettings>): void;
  /** Preview the dataset with the loaded model's tokenizer (the latest call wins). */
  refreshPreview(settings: PreviewSettings): Promise<void>;
  onDataDownload(e: Extract<EngineEvent, { type: 'download' }>): void;
}

export const DEFAULT_DATA_SETTINGS: DataSettings = { evalFraction: 0.1, maskPrompt: true, pack: false, metricRows: 16 };

export const createDataSlice: StateCreator<Store, [], [], DataSlice> = (set, get) => {
  // The dataset in use stays until a new one has loaded: a failed load only shows its error.
  const loading = async (job: () => Promise<DatasetSummary>, choice: DataChoice, fromHub = false) => {
    set({ dataStatus: 'loading', dataError: undefined, ...(fromHub ? { dataDownloadFiles: [], dataDownloads: {} } : {}) });
    try {
      const dataset = await job();
      set({ dataStatus: 'ready', dataset, dataChoice: choice, preview: undefined, previewStatus: 'none', previewError: undefined });
    } catch (e) {
      set((s) => ({ dataStatus: s.dataset ? 'ready' : 'error', dataError: errorInfo(e) }));
    }
  };
  let previewSeq = 0;
  return {
    dataStatus: 'none',
    dataSettings: DEFAULT_DATA_SETTINGS,
    dataDownloadFiles: [],
    dataDownloads: {},
    previewStatus: 'none',
    loadDatasetText(name, content, mapping) {
      return loading(() => getEngine().loadDataset(name, content, mapping), { kind: 'file', name });
    },
    loadDatasetFile(name, bytes, mapping) {
      // a copy is transferred, so the page can read the file again with another mapping
      const copy = bytes.slice();
      return loading(() => getEngine().loadDatasetFile(name, transfer(copy, [copy.buffer]), mapping), { kind: 'file', name });
    },
    loadHubDataset(req, mapping) {
      const { token: _token, ...kept } = req; // the token stays in its own storage
      return loading(() => getEngine().loadHubDataset(req, mapping), { kind: 'hub', req: kept, ...(mapping ? { mapping } : {}) }, true);
    },
    loadBuiltinDataset(name) {
      return loading(() => getEngine().loadBuiltinDataset(name), { kind: 'builtin', name });
    },
    setDataSettings(p) {
      set((s) => ({ dataSettings: { ...s.dataSettings, ...p } }));
    },
    async refreshPreview(settings) {
      const id = get().dataset?.id;
      const seq = ++previewSeq;
      if (!id) return set({ preview: undefined, previewStatus: 'none', previewError: undefined });
      set({ previewStatus: 'loading' });
      try {
        const preview = await getEngine().previewDataset(id, settings);
        if (seq === previewSeq) set({ preview, previewStatus: 'ready', previewError: undefined });
      } catch (e) {
        if (seq === previewSeq) set({ preview: undefined, previewStatus: 'error', previewError: errorInfo(e) });
      }
    },
    onDataDownload(e) {
      const { file, loaded, total, fromCache } = e;
      set((s) => ({
        dataDownloadFiles: file in s.dataDownloads ? s.dataDownloadFiles : [...s.dataDownloadFiles, file],
        dataDownloads: { ...s.dataDownloads, [file]: { loaded, total, fromCache } },
      }));
    },
  };
};
