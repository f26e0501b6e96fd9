// The page's handle on the engine worker: a comlink proxy typed by EngineApi.

import { wrap, type Remote } from 'comlink';
import type { EngineApi } from '../engine/api.ts';

let engine: Remote<EngineApi> | undefined;

export function getEngine(): Remote<EngineApi> {
  engine ??= wrap<EngineApi>(new Worker(new URL('../../workers/trainer.worker.ts', import.meta.url), { type: 'module', name: 'webtune-engine' }));
  return engine;
}
