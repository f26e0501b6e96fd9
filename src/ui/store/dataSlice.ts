// Data slice: the dataset the runs train on (a file the user picked or dropped, read here
// and parsed in the worker, or a built-in sample), its summary with the unreadable rows by
// line, and the data settings every run of the page uses.

import type { StateCreator } from 'zustand';
import { errorInfo, type DatasetSummary, type ErrorInfo } from '../../engine/api.ts';
import type { FieldMapping } from '../../engine/data/dataset.ts';
import type { DataSettings } from '../../engine/runs.ts';
import { getEngine } from '../engine.ts';
import type { Store } from './index.ts';

export interface DataSlice {
  dataStatus: 'none' | 'loading' | 'ready' | 'error';
  dataset?: DatasetSummary;
  dataError?: ErrorInfo;
  dataSettings: DataSettings;
  /** Parse a file's text in the worker (JSONL, JSON, CSV, TXT), with an optional field mapping. */
  loadDatasetText(name: string, content: string, mapping?: FieldMapping): Promise<void>;
  loadBuiltinDataset(name: string): Promise<void>;
  setDataSettings(p: Partial<DataSettings>): void;
}

export const DEFAULT_DATA_SETTINGS: DataSettings = { evalFraction: 0.1, maskPrompt: true, pack: false, metricRows: 16 };

export const createDataSlice: StateCreator<Store, [], [], DataSlice> = (set) => {
  const loading = async (job: () => Promise<DatasetSummary>) => {
    set({ dataStatus: 'loading', dataError: undefined });
    try {
      const dataset = await job();
      set({ dataStatus: 'ready', dataset });
    } catch (e) {
      set({ dataStatus: 'error', dataError: errorInfo(e), dataset: undefined });
    }
  };
  return {
    dataStatus: 'none',
    dataSettings: DEFAULT_DATA_SETTINGS,
    loadDatasetText(name, content, mapping) {
      return loading(() => getEngine().loadDataset(name, content, mapping));
    },
    loadBuiltinDataset(name) {
      return loading(() => getEngine().loadBuiltinDataset(name));
    },
    setDataSettings(p) {
      set((s) => ({ dataSettings: { ...s.dataSettings, ...p } }));
    },
  };
};
