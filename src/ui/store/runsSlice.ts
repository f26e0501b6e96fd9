// Runs slice: the page's record of every training run (RunView, built from the worker's
// 'run' / 'train' events), the runs the charts overlay, and the actions on runs. Events are
// batched: they queue here and are applied once per animation frame, each run's arrays
// replaced only when it got new points, so a stream of steps re-renders only the views of
// the runs that changed, at most once a frame.

import type { StateCreator } from 'zustand';
import { errorInfo, type ErrorInfo, type RunEvent, type RunRequestData } from '../../engine/api.ts';
import type { EvalPoint, RunView, StepPoint } from './runTypes.ts';
import { getEngine } from '../engine.ts';
import type { Store } from './index.ts';

export interface RunsSlice {
  runs: Record<string, RunView>;
  /** Run ids, oldest first. */
  runOrder: string[];
  /** Runs paused between steps (the worker's 'paused' until 'resumed'). */
  pausedRuns: Record<string, boolean>;
  /** Runs the charts overlay. */
  chartRuns: string[];
  runsError?: ErrorInfo;
  starting: boolean;
  /** Check every request with estimateRun, then queue them all in order (none if one cannot start). */
  startRuns(reqs: RunRequestData[]): Promise<void>;
  pauseRun(id: string): Promise<void>;
  resumeRun(id: string): Promise<void>;
  stopRun(id: string): Promise<void>;
  setChartRun(id: string, shown: boolean): void;
  renameRun(id: string, label: string): void;
  /** Add or replace runs known from elsewhere (e.g. restored from the browser's storage). */
  putRuns(views: RunView[]): void;
  onRunEvent(e: RunEvent): void;
}

/** Events waiting for the next frame; those of runs not in the store yet wait for them. */
let pending: RunEvent[] = [];
let scheduled = false;

function schedule(flush: () => void): void {
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    scheduled = false;
    flush();
  };
  // A hidden tab gets no animation frames: fall back to a timer there.
  if (typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && document.visibilityState === 'visible') requestAnimationFrame(run);
  else setTimeout(run, 100);
}

/** Apply one run's events to its record: new arrays only where something was added. */
function apply(v: RunView, events: RunEvent[], paused: Record<string, boolean>): RunView {
  let steps: StepPoint[] | undefined;
  let evals: EvalPoint[] | undefined;
  let out = v;
  const perStep = v.request.B * v.request.T * Number(v.request.trainer.accum ?? 1);
  for (const e of events) {
    if (e.type === 'run') {
      out = {
        ...out,
        phase: e.phase,
        ...(e.trainableParams !== undefined ? { trainableParams: e.trainableParams } : {}),
        ...(e.exportFormats ? { exportFormats: e.exportFormats } : {}),
        ...(e.summary ? { summary: { ...e.summary } } : {}),
        ...(e.error ? { error: e.error } : {}),
        ...(e.notice ? { notice: e.notice } : {}),
      };
      // A run restarted from a checkpoint (after a lost device) sends its later steps again.
      if (e.restartedAt !== undefined) {
        const at = e.restartedAt;
        steps = (steps ?? out.steps).filter((p) => p.step <= at);
        evals = (evals ?? out.evals).filter((p) => p.step <= at);
      }
      if (e.phase !== 'running') delete paused[v.id];
    } else {
      const t = e.event;
      if (t.type === 'step') {
        steps ??= [...out.steps];
        steps.push({ step: t.step, loss: t.loss, lr: t.lr, tokensPerSec: t.tokensPerSec, wallMs: t.wallMs, tokens: t.step * perStep, gradNorm: t.gradNorm, memory: t.memory, stepPeak: t.stepPeak });
      } else if (t.type === 'eval') {
        evals ??= [...out.evals];
        evals.push({ step: t.step, loss: t.loss, ...(t.metric === undefined ? {} : { metric: t.metric }) });
      } else if (t.type === 'paused') paused[v.id] = true;
      else delete paused[v.id];
    }
  }
  if (steps || evals) out = { ...out, ...(steps ? { steps } : {}), ...(evals ? { evals } : {}) };
  return out;
}

export const createRunsSlice: StateCreator<Store, [], [], RunsSlice> = (set, get) => {
  const flush = () => {
    const s = get();
    const byRun = new Map<string, RunEvent[]>();
    const waiting: RunEvent[] = [];
    for (const e of pending) {
      if (!s.runs[e.id]) waiting.push(e);
      else {
        const list = byRun.get(e.id);
        if (list) list.push(e);
        else byRun.set(e.id, [e]);
      }
    }
    pending = waiting;
    if (byRun.size === 0) return;
    const runs = { ...s.runs };
    const paused = { ...s.pausedRuns };
    for (const [id, events] of byRun) runs[id] = apply(runs[id], events, paused);
    set({ runs, pausedRuns: paused });
  };

  const add = (id: string, req: RunRequestData) => {
    const s = get();
    const m = s.model;
    const view: RunView = {
      id,
      label: req.label ?? id,
      request: req,
      model: { name: m?.name ?? '', precision: m?.precision ?? '', parameters: m?.parameters ?? 0 },
      datasetName: s.dataset?.name ?? '',
      phase: 'queued',
      createdAt: Date.now(),
      steps: [],
      evals: [],
    };
    set((st) => ({ runs: { ...st.runs, [id]: view }, runOrder: st.runOrder.includes(id) ? st.runOrder : [...st.runOrder, id], chartRuns: [...st.chartRuns.filter((x) => x !== id), id] }));
    if (pending.some((e) => e.id === id)) schedule(flush);
  };

  const control = async (job: () => Promise<void>) => {
    try {
      await job();
      set({ runsError: undefined });
    } catch (e) {
      set({ runsError: errorInfo(e) });
    }
  };

  return {
    runs: {},
    runOrder: [],
    pausedRuns: {},
    chartRuns: [],
    starting: false,

    async startRuns(reqs) {
      set({ starting: true, runsError: undefined });
      const engine = getEngine();
      try {
        for (const r of reqs) {
          const est = await engine.estimateRun(r);
          if (!est.ok) throw Object.assign(new Error(`${r.label ?? r.method}: ${est.error?.message ?? 'cannot start'}`), { name: est.error?.name ?? 'Error' });
        }
        for (const r of reqs) add(await engine.startRun(r), r);
        set({ starting: false });
      } catch (e) {
        set({ starting: false, runsError: errorInfo(e) });
      }
    },

    pauseRun: (id) => control(() => getEngine().pauseRun(id)),
    resumeRun: (id) => control(() => getEngine().resumeRun(id)),
    stopRun: (id) => control(() => getEngine().stopRun(id)),

    setChartRun(id, shown) {
      set((s) => ({ chartRuns: shown ? (s.chartRuns.includes(id) ? s.chartRuns : [...s.chartRuns, id]) : s.chartRuns.filter((x) => x !== id) }));
    },

    renameRun(id, label) {
      set((s) => (s.runs[id] ? { runs: { ...s.runs, [id]: { ...s.runs[id], label } } } : {}));
    },

    putRuns(views) {
      set((s) => {
        const runs = { ...s.runs };
        const order = [...s.runOrder];
        for (const v of views) {
          runs[v.id] = v;
          if (!order.includes(v.id)) order.push(v.id);
        }
        return { runs, runOrder: order };
      });
    },

    onRunEvent(e) {
      pending.push(e);
      schedule(flush);
    },
  };
};
