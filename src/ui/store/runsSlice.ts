// Runs slice: the page's record of every training run (RunView, built from the worker's
// 'run' / 'train' events), the runs the charts overlay, and the actions on runs. Events are
// batched: they queue here and are applied once per animation frame, each run's arrays
// replaced only when it got new points, so a stream of steps re-renders only the views of
// the runs that changed, at most once a frame.

import type { StateCreator } from 'zustand';
import { errorInfo, type ErrorInfo, type RunEvent, type RunRequestData } from '../../engine/api.ts';
import type { EvalPoint, RunView, StepPoint } from './runTypes.ts';
import { getEngine } from '../engine.ts';
import { formWords, uniqueLabel } from '../run-stats.ts';
import { autoLabel } from './draft.ts';
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
  /** Methods of the last comparison that could not start (the others queued), one line each. */
  skipped: string[];
  /** A Pause / Resume / Stop asked for and not yet acted on (the worker acts between batches). */
  pendingControl: Record<string, 'pausing' | 'resuming' | 'stopping'>;
  starting: boolean;
  /**
   * Check every request with estimateRun, then queue them in order under names that tell
   * them apart. By default none queues if one cannot start; with `each` (a comparison), each
   * request is first fitted to the loaded base (its method's fitToBase) and those that still
   * cannot start are listed in `skipped` while the others queue.
   */
  startRuns(reqs: RunRequestData[], opts?: { each?: boolean }): Promise<void>;
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
      };
      if (e.phase !== 'running') delete paused[v.id];
    } else {
      const t = e.event;
      if (t.type === 'step') {
        steps ??= [...out.steps];
        steps.push({ step: t.step, loss: t.loss, lr: t.lr, tokensPerSec: t.tokensPerSec, wallMs: t.wallMs, tokens: t.step * perStep, gradNorm: t.gradNorm, memory: t.memory, stepPeak: t.stepPeak });
      } else if (t.type === 'eval') {
        evals ??= [...out.evals];
        evals.push({ step: t.step, loss: t.loss, ...(t.metric === undefined ? {} : { metric: t.metric }), ...(t.wallMs === undefined ? {} : { wallMs: t.wallMs }), ...(t.ms === undefined ? {} : { ms: t.ms }) });
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
    let pendingControl = s.pendingControl;
    for (const [id, events] of byRun) {
      runs[id] = apply(runs[id], events, paused);
      const want = pendingControl[id];
      // A pending Pause / Resume / Stop ends when the worker says it acted (or the run ended).
      const acted = want && events.some((e) => (e.type === 'run' && e.phase !== 'running' && e.phase !== 'queued') || (e.type === 'train' && ((want === 'pausing' && e.event.type === 'paused') || (want === 'resuming' && e.event.type === 'resumed'))));
      if (acted) {
        pendingControl = { ...pendingControl };
        delete pendingControl[id];
      }
    }
    set({ runs, pausedRuns: paused, pendingControl });
  };

  const add = (id: string, req: RunRequestData, label: string, note?: string) => {
    const s = get();
    const m = s.model;
    const view: RunView = {
      id,
      label,
      ...(note ? { note } : {}),
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
    skipped: [],
    pendingControl: {},
    starting: false,

    async startRuns(reqs, opts = {}) {
      set({ starting: true, runsError: undefined, skipped: [] });
      const engine = getEngine();
      const fields = (method: string) => [...Object.keys(get().methods.find((m) => m.name === method)?.schema ?? {}), ...Object.keys(get().trainerSchema ?? {})];
      const say = (method: string, msg: string) => formWords(msg, fields(method)).text;
      try {
        const ready: { req: RunRequestData; note?: string }[] = [];
        const skipped: string[] = [];
        for (const r0 of reqs) {
          let r = r0;
          let note: string | undefined;
          if (opts.each) {
            const fit = await engine.fitRun(r0);
            if (fit.note) {
              note = fit.note;
              r = { ...fit.request, label: autoLabel(fit.request.method, fit.request.methodConfig, fit.request.trainer) };
            }
          }
          const est = await engine.estimateRun(r);
          if (!est.ok) {
            const line = `${r.label ?? r.method}: ${say(r.method, est.error?.message ?? 'cannot start')}`;
            if (!opts.each) throw Object.assign(new Error(line), { name: est.error?.name ?? 'Error' });
            skipped.push(line);
            continue;
          }
          ready.push({ req: r, note });
        }
        for (const { req, note } of ready) {
          const s = get();
          const previous = s.runOrder.map((id) => s.runs[id]).filter((v): v is RunView => !!v);
          const base = req.label ?? autoLabel(req.method, req.methodConfig, req.trainer);
          const label = uniqueLabel(base, req, previous, previous.length + 1);
          add(await engine.startRun({ ...req, label }), { ...req, label }, label, note);
        }
        set({ starting: false, skipped });
      } catch (e) {
        set({ starting: false, runsError: errorInfo(e) });
      }
    },

    pauseRun: (id) => (set((s) => ({ pendingControl: { ...s.pendingControl, [id]: 'pausing' } })), control(() => getEngine().pauseRun(id))),
    resumeRun: (id) => (set((s) => ({ pendingControl: { ...s.pendingControl, [id]: 'resuming' } })), control(() => getEngine().resumeRun(id))),
    stopRun: (id) => (set((s) => ({ pendingControl: { ...s.pendingControl, [id]: 'stopping' } })), control(() => getEngine().stopRun(id))),

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
