import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/index.ts';
import type { RunView } from '../store/runTypes.ts';

/** The runs the charts overlay, as one array that changes only when one of them does. */
export function useChartRuns(): RunView[] {
  return useStore(useShallow((s) => s.chartRuns.map((id) => s.runs[id]).filter((r): r is RunView => !!r)));
}
