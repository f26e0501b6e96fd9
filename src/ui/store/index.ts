// One zustand store built from typed slices (zustand's slices pattern). Components select
// primitives or stable objects so streaming updates re-render only what shows them.

import { create } from 'zustand';
import { createGpuSlice, type GpuSlice } from './gpuSlice.ts';
import { createModelSlice, type ModelSlice } from './modelSlice.ts';

export type Store = GpuSlice & ModelSlice;

export const useStore = create<Store>()((...a) => ({
  ...createGpuSlice(...a),
  ...createModelSlice(...a),
}));
