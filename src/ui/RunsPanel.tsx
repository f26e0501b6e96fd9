// Starting runs and watching them: Start (the method the forms describe), a comparison
// (several methods on the same data, each with its own settings from the forms), a sweep
// (one run per value of the rank or the learning rate), and a row per run with its phase,
// progress, loss, throughput, time left and Pause / Resume / Stop.

import { memo, useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { RunRequestData } from '../engine/runs.ts';
import { autoLabel, buildRequest } from './store/draft.ts';
import { useStore } from './store/index.ts';
import { useDraft } from './useDraft.ts';
import { fmtDuration, fmtTps, TIME_LEFT_HELP, timeLeft, TOKENS_PER_SEC_HELP, tokensPerSecond } from './run-stats.ts';

export function RunsPanel() {
  const order = useStore((s) => s.runOrder);
  const error = useStore((s) => s.runsError);
  return (
    <section className="panel wide" aria-labelledby="runs-title" data-testid="runs-panel">
      <h2 id="runs-title">
        <span className="step-no">4</span> Runs
      </h2>
      <Launch />
      {error && (
        <p className="problem" role="alert" data-testid="runs-error">
          {error.name}: {error.message}
        </p>
      )}
      {order.length === 0 ? (
        <p className="muted">No runs yet. Runs queue on the one GPU and train one after another.</p>
      ) : (
        <div className="table-scroll">
          <table className="runs" data-testid="runs-table">
            <thead>
              <tr>
                <th scope="col">Chart</th>
                <th scope="col">Run</th>
                <th scope="col">Method</th>
                <th scope="col">Phase</th>
                <th scope="col">Step</th>
                <th scope="col">Loss</th>
                <th scope="col">Eval loss</th>
                <th scope="col">
                  <span className="help-term" title={TOKENS_PER_SEC_HELP}>Tokens/s</span>
                </th>
                <th scope="col">
                  <span className="help-term" title={TIME_LEFT_HELP}>Time left</span>
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {order.map((id) => (
                <RunRow key={id} id={id} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Why nothing can start yet, or undefined when a run can. */
function useBlocker(): string | undefined {
  const modelReady = useStore((s) => s.modelStatus === 'ready');
  const hasData = useStore((s) => s.dataStatus === 'ready' && !!s.dataset && s.dataset.rows > 0);
  const est = useStore(useShallow((s) => ({ estimate: s.estimate, key: s.estimateKey })));
  const draft = useDraft();
  if (!modelReady) return 'Load a model first (step 1).';
  if (!hasData) return 'Load a dataset first (step 2).';
  if (!draft?.request) return draft?.problem ? `Fix the settings: ${draft.problem}` : 'Loading methods…';
  if (est.key !== JSON.stringify(draft.request)) return 'Checking memory…';
  if (est.estimate && !est.estimate.ok) return `This run cannot start: ${est.estimate.error?.message ?? ''}`;
  return undefined;
}

function Launch() {
  const draft = useDraft();
  const blocker = useBlocker();
  const startRuns = useStore((s) => s.startRuns);
  const starting = useStore((s) => s.starting);
  const skipped = useStore((s) => s.skipped);
  const parts = useStore(useShallow((s) => ({ methods: s.methods, trainerSchema: s.trainerSchema, configEdits: s.configEdits, trainerShared: s.trainerShared, trainerOwn: s.trainerOwn, shape: s.shape, datasetId: s.dataset?.id ?? '', data: s.dataSettings, method: s.method })));
  const datasetName = useStore((s) => s.dataset?.name);
  const [compare, setCompare] = useState<string[]>(['lora', 'mezo']);
  const [sweepOver, setSweepOver] = useState<'lr' | 'rank'>('lr');
  const [sweepValues, setSweepValues] = useState('1e-3, 3e-3, 1e-2');
  const [localError, setLocalError] = useState<string>();
  const ready = !blocker && !starting;
  const modelAndData = !blocker || blocker.startsWith('Fix') || blocker.startsWith('This run') || blocker.startsWith('Checking');

  const requestFor = (method: string, over?: { config?: Record<string, string>; trainer?: Record<string, string> }): RunRequestData | string => {
    const methodInfo = parts.methods.find((m) => m.name === method);
    if (!methodInfo || !parts.trainerSchema) return `no method ${method}`;
    const b = buildRequest(
      {
        methodInfo,
        trainerSchema: parts.trainerSchema,
        config: { ...parts.configEdits[method], ...over?.config },
        trainerShared: parts.trainerShared,
        trainerOwn: { ...parts.trainerOwn[method], ...over?.trainer },
        shape: parts.shape,
      },
      parts.datasetId,
      parts.data,
    );
    return b.request ?? `${method}: ${b.problem}`;
  };
  const launch = (reqs: (RunRequestData | string)[], each = false) => {
    const bad = reqs.filter((r): r is string => typeof r === 'string');
    setLocalError(bad.length ? bad.join('\n') : undefined);
    const good = reqs.filter((r): r is RunRequestData => typeof r !== 'string');
    // A comparison queues every method that can run; a sweep is all or nothing.
    if (each ? good.length > 0 : bad.length === 0) void startRuns(good, { each });
  };
  const sweepList = useMemo(() => sweepValues.split(/[\s,;]+/).filter(Boolean), [sweepValues]);
  const method = parts.methods.find((m) => m.name === parts.method);
  const canSweepRank = !!method && 'rank' in method.schema;

  return (
    <div className="launch">
      <div className="launch-main">
        <button type="button" className="primary" disabled={!ready} data-testid="start-run" onClick={() => draft?.request && void startRuns([draft.request])}>
          Start {draft?.request ? draft.request.label : 'run'}
        </button>
        <p className={blocker?.startsWith('This run') ? 'problem' : 'muted'} data-testid="start-blocker" aria-live="polite">
          {starting ? 'Queuing…' : (blocker ?? `${draft?.request?.trainer.steps} steps of B=${draft?.request?.B} × T=${draft?.request?.T} on ${datasetName}.`)}
        </p>
      </div>
      <fieldset className="launch-group">
        <legend>Queue a comparison</legend>
        <p className="muted">The same data and batch for each method; each keeps its own settings from the form above (pick it there to edit them), fitted to the loaded base where they would not run on it (MeZO on a quantized base trains LoRA adapters: ZO-LoRA). A method that cannot run is listed and the others still queue.</p>
        <div className="row-buttons">
          {parts.methods.map((m) => (
            <label key={m.name} className="field">
              <input type="checkbox" checked={compare.includes(m.name)} onChange={(e) => setCompare((c) => (e.target.checked ? [...c, m.name] : c.filter((x) => x !== m.name)))} />
              {m.name}
            </label>
          ))}
          <button type="button" className="secondary" disabled={!modelAndData || starting || compare.length === 0} data-testid="queue-comparison" onClick={() => launch(parts.methods.filter((m) => compare.includes(m.name)).map((m) => requestFor(m.name)), true)}>
            Queue {compare.length} runs
          </button>
        </div>
      </fieldset>
      <fieldset className="launch-group">
        <legend>Sweep</legend>
        <div className="row-buttons">
          <label className="field">
            Over
            <select value={canSweepRank ? sweepOver : 'lr'} onChange={(e) => setSweepOver(e.target.value === 'rank' ? 'rank' : 'lr')}>
              <option value="lr">learning rate</option>
              {canSweepRank && <option value="rank">rank</option>}
            </select>
          </label>
          <label className="field">
            Values
            <input type="text" value={sweepValues} size={18} onChange={(e) => setSweepValues(e.target.value)} aria-describedby="sweep-help" />
          </label>
          <button
            type="button"
            className="secondary"
            disabled={!modelAndData || starting || sweepList.length === 0}
            data-testid="queue-sweep"
            onClick={() =>
              launch(
                sweepList.map((v) => {
                  const r = sweepOver === 'rank' && canSweepRank ? requestFor(parts.method, { config: { rank: v } }) : requestFor(parts.method, { trainer: { lr: v } });
                  return typeof r === 'string' ? r : { ...r, label: autoLabel(r.method, r.methodConfig, r.trainer) };
                }),
              )
            }
          >
            Queue {sweepList.length} {parts.method} run{sweepList.length === 1 ? '' : 's'}
          </button>
        </div>
        <p id="sweep-help" className="muted">
          One run of the chosen method ({parts.method}) per value, comma-separated, everything else as in the form.
        </p>
      </fieldset>
      {localError && (
        <p className="problem pre-line" role="alert">
          {localError}
        </p>
      )}
      {skipped.length > 0 && (
        <div className="problem" role="alert" data-testid="comparison-skipped">
          Not queued (the others were):
          <ul>
            {skipped.map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

const fmtLoss = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(4));


const RunRow = memo(function RunRow({ id }: { id: string }) {
  const r = useStore((s) => s.runs[id]);
  const paused = useStore((s) => !!s.pausedRuns[id]);
  const shown = useStore((s) => s.chartRuns.includes(id));
  const setShown = useStore((s) => s.setChartRun);
  const pending = useStore((s) => s.pendingControl[id]);
  const pause = useStore((s) => s.pauseRun);
  const resume = useStore((s) => s.resumeRun);
  const stop = useStore((s) => s.stopRun);
  if (!r) return null;
  const last = r.steps.at(-1);
  const total = Number(r.request.trainer.steps);
  const step = last?.step ?? 0;
  const active = r.phase === 'queued' || r.phase === 'running';
  const leftMs = r.phase === 'running' && !paused ? timeLeft(r) : undefined;
  const left = leftMs !== undefined ? fmtDuration(leftMs) : r.phase === 'queued' ? 'queued' : paused && active ? 'paused' : '—';
  const phase = paused && r.phase === 'running' ? 'paused' : r.phase;
  const shownPhase = pending && active ? `${pending}…` : phase;
  const tps = tokensPerSecond(r);
  const evalLoss = r.evals.at(-1)?.loss ?? r.summary?.evalLoss;
  return (
    <tr data-testid="run-row" data-run={id} data-phase={phase} data-pending={pending ?? ''} data-step={step} data-loss={last?.loss ?? ''} data-first-loss={r.steps[0]?.loss ?? ''}>
      <td>
        <input type="checkbox" checked={shown} aria-label={`Show ${r.label} in the charts`} onChange={(e) => setShown(id, e.target.checked)} />
      </td>
      <th scope="row" className="run-label">
        {r.label}
        {r.note && (
          <div className="run-note small" data-testid="run-note">
            {r.note}
          </div>
        )}
      </th>
      <td>{r.request.method}</td>
      <td>
        <span className={`phase ${phase}${pending && active ? ' pending' : ''}`} data-testid="run-phase" title={r.error ? `${r.error.name}: ${r.error.message}` : undefined}>
          {shownPhase}
        </span>
        {r.error && <div className="problem small">{r.error.message}</div>}
      </td>
      <td>
        <progress value={step} max={total} aria-label={`${r.label} progress`} /> {step} / {total}
      </td>
      <td data-testid="run-loss">{fmtLoss(last?.loss)}</td>
      <td>{fmtLoss(evalLoss)}</td>
      <td data-testid="run-tps" data-value={tps ?? ''}>{tps === undefined ? '—' : fmtTps(tps)}</td>
      <td>{left}</td>
      <td>
        <div className="actions">
        {active && !paused && (
          <button type="button" className="small secondary" disabled={r.phase !== 'running' || !!pending} onClick={() => void pause(id)} aria-label={`Pause ${r.label}`}>
            Pause
          </button>
        )}
        {active && paused && (
          <button type="button" className="small secondary" disabled={!!pending} onClick={() => void resume(id)} aria-label={`Resume ${r.label}`}>
            Resume
          </button>
        )}
        {active && (
          <button type="button" className="small danger" disabled={pending === 'stopping'} onClick={() => void stop(id)} aria-label={`Stop ${r.label}`}>
            Stop
          </button>
        )}
        </div>
      </td>
    </tr>
  );
});
