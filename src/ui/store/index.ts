// One zustand store built from typed slices (zustand's slices pattern). Components select
// primitives or stable objects so streaming updates re-render only what shows them.

import { create } from 'zustand';
import { createDataSlice, type DataSlice } from './dataSlice.ts';
import { createGpuSlice, type GpuSlice } from './gpuSlice.ts';
import { createMethodSlice, type MethodSlice } from './methodSlice.ts';
import { createModelSlice, type ModelSlice } from './modelSlice.ts';
import { createRunsSlice, type RunsSlice } from './runsSlice.ts';
import { createPersistSlice, type PersistSlice } from './persistSlice.ts';
import { keepSession } from './session.ts';

export type Store = GpuSlice & ModelSlice & DataSlice & MethodSlice & RunsSlice & PersistSlice;

export const useStore = create<Store>()((...a) => ({
  ...createGpuSlice(...a),
  ...createModelSlice(...a),
  ...createDataSlice(...a),
  ...createMethodSlice(...a),
  ...createRunsSlice(...a),
  ...createPersistSlice(...a),
}));

/** The page as it was before a reload (forms, data choice, charts), restored now and kept. */
export const restoredSession = keepSession(useStore);
