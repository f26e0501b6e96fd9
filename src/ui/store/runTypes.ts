// What the page keeps about a training run: built from the worker's 'run' / 'train' events
// (src/engine/runs.ts), shown by the runs, charts, compare and playground views, and
// persisted in the browser (IndexedDB) so it is still there after a reload.

import type { RunPhase, RunRequestData } from '../../engine/runs.ts';
import type { ByCategory } from '../../engine/gpu/ledger.ts';
import type { MemoryFields, TrainSummary } from '../../engine/train/trainer.ts';

export interface StepPoint {
  step: number;
  loss: number;
  lr: number;
  tokensPerSec: number;
  /** Milliseconds since the run started. */
  wallMs: number;
  /** Tokens processed so far (B·T·accum per step). */
  tokens: number;
  gradNorm?: number;
  memory: MemoryFields;
  /** Highest bytes per category during the step (absent in runs stored before it existed). */
  stepPeak?: ByCategory & { total: number };
}

export interface EvalPoint {
  step: number;
  loss: number;
  metric?: number;
  /** Wall time at the eval's end, and its duration (absent in runs stored before they existed). */
  wallMs?: number;
  ms?: number;
}

/** The trainer's summary of a finished run. */
export type RunSummaryUI = TrainSummary;

export interface RunView {
  /** The worker's run id; stays the key after a reload (the worker's state is gone then). */
  id: string;
  /** Editable name shown everywhere. */
  label: string;
  /** What the comparison changed to fit the base it ran on (MeZO → ZO-LoRA on a quantized base). */
  note?: string;
  request: RunRequestData;
  /** Base model name and precision it trained on; parameter count for "% of base". */
  model: { name: string; precision: string; parameters: number };
  datasetName: string;
  phase: RunPhase;
  createdAt: number;
  steps: StepPoint[];
  evals: EvalPoint[];
  trainableParams?: number;
  exportFormats?: string[];
  summary?: RunSummaryUI;
  error?: { name: string; message: string };
  /** Bytes of the default export (the adapter size), once saved. */
  exportBytes?: number;
  /** The run's files are stored in the browser (so export and playground work after a reload). */
  stored?: boolean;
}
