// The run the forms describe, as a hook: re-computed only when a piece of the draft changes.

import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { buildRequest, type Built } from './store/draft.ts';
import { useStore } from './store/index.ts';

export function useDraft(method?: string): Built | undefined {
  const s = useStore(
    useShallow((st) => ({
      method: method ?? st.method,
      methods: st.methods,
      trainerSchema: st.trainerSchema,
      configEdits: st.configEdits,
      trainerShared: st.trainerShared,
      trainerOwn: st.trainerOwn,
      shape: st.shape,
      datasetId: st.dataset?.id ?? '',
      data: st.dataSettings,
    })),
  );
  return useMemo(() => {
    const methodInfo = s.methods.find((m) => m.name === s.method);
    if (!methodInfo || !s.trainerSchema) return undefined;
    return buildRequest(
      { methodInfo, trainerSchema: s.trainerSchema, config: s.configEdits[s.method], trainerShared: s.trainerShared, trainerOwn: s.trainerOwn[s.method], shape: s.shape },
      s.datasetId,
      s.data,
    );
  }, [s]);
}
