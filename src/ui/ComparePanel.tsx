// Finished runs side by side: a sortable table of what each cost and reached, a Pareto
// scatter (eval loss against peak memory or trainable parameters), a diff of two runs'
// configs; the runs kept in the browser (rename, delete, export, storage used); and the
// side-by-side playground (RunPlayground).

import { useEffect, useMemo, useState } from 'react';
import { CartesianGrid, LabelList, Legend, type LabelProps, Scatter, ScatterChart, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { ExportButtons } from './ExportButtons.tsx';
import { formatBytes } from './persist.ts';
import { RunPlayground } from './RunPlayground.tsx';
import { useStore } from './store/index.ts';
import { runUsable } from './store/persistSlice.ts';
import type { RunView } from './store/runTypes.ts';
import { defaultDiffPair, flatRequest, fmtTps, fmtWall, TOKENS_PER_SEC_HELP, tokensPerSecond, WALL_TIME_HELP, wallTime } from './run-stats.ts';

const isFinished = (r: RunView | undefined): r is RunView => r?.phase === 'done' || r?.phase === 'stopped';

export interface CompareRow {
  id: string;
  label: string;
  method: string;
  params?: number;
  /** Trainable parameters as a percentage of the base's. */
  pctBase?: number;
  peakBytes?: number;
  tokensPerSec?: number;
  trainLoss?: number;
  evalLoss?: number;
  metric?: number;
  adapterBytes?: number;
  wallMs?: number;
}

const last = <T,>(a: readonly T[]): T | undefined => a[a.length - 1];
const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : undefined);

/** What the compare view shows of one run, from its summary and its points. */
export function compareRow(r: RunView): CompareRow {
  const s = r.summary;
  const params = r.trainableParams ?? s?.trainableParams;
  const end = last(r.steps);
  const peakSteps = r.steps.length ? Math.max(...r.steps.map((p) => p.memory.peak)) : undefined;
  return {
    id: r.id,
    label: r.label,
    method: r.request.method,
    params,
    pctBase: params !== undefined && r.model.parameters > 0 ? (100 * params) / r.model.parameters : undefined,
    peakBytes: s?.peakBytes ?? peakSteps,
    tokensPerSec: tokensPerSecond(r),
    trainLoss: finite(s?.finalLoss ?? end?.loss),
    evalLoss: finite(s?.evalLoss ?? last(r.evals)?.loss),
    metric: finite(s?.metric ?? last(r.evals)?.metric),
    adapterBytes: r.exportBytes,
    wallMs: wallTime(r),
  };
}

type Col = { key: keyof CompareRow; title: string; long?: string; fmt: (r: CompareRow) => string; numeric: boolean };
const num = (x: number | undefined, d: number) => (x === undefined ? '–' : x.toFixed(d));
const COLS: Col[] = [
  { key: 'label', title: 'Run', fmt: (r) => r.label, numeric: false },
  { key: 'method', title: 'Method', fmt: (r) => r.method, numeric: false },
  { key: 'params', title: 'Trainable', long: 'Trainable parameters', fmt: (r) => (r.params === undefined ? '–' : r.params.toLocaleString('en-US')), numeric: true },
  { key: 'pctBase', title: '% of base', long: 'Trainable parameters as a share of the base model\'s', fmt: (r) => (r.pctBase === undefined ? '–' : `${r.pctBase < 0.1 ? r.pctBase.toFixed(3) : r.pctBase.toFixed(2)} %`), numeric: true },
  { key: 'peakBytes', title: 'Peak mem', long: 'Peak GPU memory (ledger)', fmt: (r) => formatBytes(r.peakBytes), numeric: true },
  { key: 'tokensPerSec', title: 'Tokens/s', long: TOKENS_PER_SEC_HELP, fmt: (r) => fmtTps(r.tokensPerSec), numeric: true },
  { key: 'trainLoss', title: 'Train loss', long: 'Final training loss', fmt: (r) => num(r.trainLoss, 4), numeric: true },
  { key: 'evalLoss', title: 'Eval loss', long: 'Held-out loss at the last eval', fmt: (r) => num(r.evalLoss, 4), numeric: true },
  { key: 'metric', title: 'Metric', long: 'Exact match on held-out prompts', fmt: (r) => (r.metric === undefined ? '–' : `${(100 * r.metric).toFixed(1)} %`), numeric: true },
  { key: 'adapterBytes', title: 'Adapter', long: 'Size of the default export', fmt: (r) => formatBytes(r.adapterBytes), numeric: true },
  { key: 'wallMs', title: 'Wall time', long: WALL_TIME_HELP, fmt: (r) => fmtWall(r.wallMs), numeric: true },
];

/** Points not beaten on both axes by another (lower is better on both), by x. */
export function paretoFront<P extends { x: number; y: number }>(points: readonly P[]): P[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  const front: P[] = [];
  for (const p of sorted) if (!front.length || p.y < front[front.length - 1].y) front.push(p);
  return front;
}

/** A run's settings as flat `section.key` → value, for the diff. */
export function flatConfig(r: RunView): Record<string, string> {
  const { method, ...rest } = flatRequest(r.request);
  return { method, model: `${r.model.name} (${r.model.precision})`, dataset: r.datasetName, ...rest };
}

const wide = { gridColumn: '1 / -1' } as const;

export function ComparePanel() {
  const initPersist = useStore((s) => s.initPersist);
  useEffect(() => {
    void initPersist();
  }, [initPersist]);
  // Finished runs only: their records no longer change with every step.
  const finished = useStore(useShallow((s) => s.runOrder.map((id) => s.runs[id]).filter(isFinished)));
  const anyRuns = useStore((s) => s.runOrder.length > 0);
  return (
    <>
      {finished.length > 0 && <CompareView runs={finished} />}
      {anyRuns && <SavedRuns />}
      <RunPlayground />
    </>
  );
}

function CompareView({ runs }: { runs: RunView[] }) {
  const rows = useMemo(() => runs.map(compareRow), [runs]);
  const [sort, setSort] = useState<{ key: keyof CompareRow; dir: 1 | -1 }>({ key: 'evalLoss', dir: 1 });
  const sorted = useMemo(() => {
    const c = COLS.find((x) => x.key === sort.key);
    return [...rows].sort((a, b) => {
      const x = a[sort.key];
      const y = b[sort.key];
      if (x === undefined) return y === undefined ? 0 : 1; // missing values last either way
      if (y === undefined) return -1;
      return (c?.numeric ? Number(x) - Number(y) : String(x).localeCompare(String(y))) * sort.dir;
    });
  }, [rows, sort]);
  return (
    <section className="panel" aria-labelledby="compare-title" data-testid="compare" style={wide}>
      <h2 id="compare-title">Compare runs</h2>
      <div style={{ overflowX: 'auto' }}>
        <table data-testid="compare-table">
          <caption className="visually-hidden">Finished runs; the column buttons sort them</caption>
          <thead>
            <tr>
              {COLS.map((c) => (
                <th key={c.key} scope="col" aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'} style={c.numeric ? { textAlign: 'right' } : undefined}>
                  <button
                    type="button"
                    title={c.long ? `${c.long} (sort)` : 'Sort'}
                    onClick={() => setSort((s) => ({ key: c.key, dir: s.key === c.key ? (s.dir === 1 ? -1 : 1) : 1 }))}
                    style={{ background: 'none', color: 'inherit', border: 'none', padding: 0, fontWeight: 700, whiteSpace: 'nowrap' }}
                  >
                    {c.title}
                    <span aria-hidden="true">{sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => (
              <tr key={r.id} data-run={r.id}>
                {COLS.map((c) =>
                  c.key === 'label' ? (
                    <th key={c.key} scope="row" data-col={c.key} style={{ fontWeight: 600, whiteSpace: 'nowrap' }}>
                      {c.fmt(r)}
                    </th>
                  ) : (
                    <td key={c.key} data-col={c.key} data-value={r[c.key] ?? ''} style={c.numeric ? { textAlign: 'right' } : undefined}>
                      {c.fmt(r)}
                    </td>
                  ),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(420px, 1fr))', gap: '1rem', marginTop: '0.5rem' }}>
        <Pareto rows={rows} />
        <ConfigDiff runs={runs} />
      </div>
    </section>
  );
}

/** Labels of points: each run's name above it on one line (the default label wraps to the
 *  symbol's width), running right of points in the left half of the x range, left of the others. */
function pointLabels(xs: readonly number[]) {
  const mid = (Math.min(...xs) + Math.max(...xs)) / 2;
  return function PointLabel(p: LabelProps) {
    const vb = p.viewBox;
    if (!vb || !('x' in vb) || vb.x === undefined || vb.y === undefined) return null;
    const left = xs.length < 2 || xs[Number(p.index ?? 0)] <= mid;
    const cx = vb.x + (vb.width ?? 0) / 2;
    return (
      <text x={left ? cx - 4 : cx + 4} y={vb.y - 6} textAnchor={left ? 'start' : 'end'} fontSize={11} fill="#1d2430">
        {String(p.value ?? '')}
      </text>
    );
  };
}

function Pareto({ rows }: { rows: CompareRow[] }) {
  const [axis, setAxis] = useState<'peakBytes' | 'params'>('peakBytes');
  const haveEval = rows.some((r) => r.evalLoss !== undefined);
  const yKey = haveEval ? 'evalLoss' : 'trainLoss';
  const points = rows.flatMap((r) => {
    const x = r[axis];
    const y = r[yKey];
    return x === undefined || y === undefined ? [] : [{ x, y, label: r.label }];
  });
  const front = paretoFront(points);
  const xName = axis === 'peakBytes' ? 'Peak memory' : 'Trainable parameters';
  const yName = haveEval ? 'Eval loss' : 'Final train loss';
  const fmtX = (v: number) => (axis === 'peakBytes' ? formatBytes(v) : v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : String(v));
  return (
    <div data-testid="pareto">
      <h3 id="pareto-title">Pareto: {yName.toLowerCase()} against cost</h3>
      <label className="field">
        x axis
        <select value={axis} onChange={(e) => setAxis(e.target.value === 'params' ? 'params' : 'peakBytes')}>
          <option value="peakBytes">Peak memory</option>
          <option value="params">Trainable parameters</option>
        </select>
      </label>
      <div role="img" aria-labelledby="pareto-title" aria-describedby="pareto-desc">
        <ScatterChart responsive style={{ width: '100%', height: 280 }} margin={{ top: 16, right: 40, bottom: 20, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis type="number" dataKey="x" name={xName} padding={{ left: 24, right: 24 }} tickFormatter={fmtX} domain={['auto', 'auto']} label={{ value: xName, position: 'insideBottom', offset: -12 }} />
          <YAxis type="number" dataKey="y" name={yName} domain={['auto', 'auto']} padding={{ top: 20, bottom: 12 }} tickFormatter={(v: number) => v.toFixed(3)} width={64} />
          <Tooltip formatter={(v, name) => (name === xName ? fmtX(Number(v)) : Number(v).toFixed(4))} />
          <Legend verticalAlign="top" height={24} />
          <Scatter name="Runs" data={points} fill="#2b59c3" isAnimationActive={false}>
            <LabelList dataKey="label" content={pointLabels(points.map((q) => q.x))} />
          </Scatter>
          <Scatter name="Pareto front" data={front} fill="#d9480f" line={{ stroke: '#d9480f', strokeDasharray: '4 3' }} shape="diamond" isAnimationActive={false} />
        </ScatterChart>
      </div>
      <p id="pareto-desc" className="muted" data-testid="pareto-front">
        On the front (lower is better on both axes): {front.map((p) => p.label).join(', ') || 'none yet'}.
      </p>
    </div>
  );
}

function ConfigDiff({ runs }: { runs: RunView[] }) {
  // Until the user picks, the two latest runs that differ (updated as runs finish).
  const [a, setA] = useState<string>();
  const [b, setB] = useState<string>();
  const pair = defaultDiffPair(runs);
  const ra = runs.find((r) => r.id === a) ?? runs.find((r) => r.id === pair?.[0]) ?? runs[0];
  const rb = runs.find((r) => r.id === b) ?? runs.find((r) => r.id === pair?.[1]) ?? runs[0];
  const fa = ra ? flatConfig(ra) : {};
  const fb = rb ? flatConfig(rb) : {};
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])];
  const differing = keys.filter((k) => fa[k] !== fb[k]).length;
  const [onlyDiff, setOnlyDiff] = useState(false);
  const pick = (value: string, set: (v: string | undefined) => void, label: string) => (
    <label className="field">
      {label}
      <select value={value} onChange={(e) => set(e.target.value)}>
        {runs.map((r) => (
          <option key={r.id} value={r.id}>
            {r.label}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div data-testid="config-diff">
      <h3>Config diff</h3>
      <div className="row-buttons">
        {pick(ra?.id ?? '', setA, 'Run A')}
        {pick(rb?.id ?? '', setB, 'Run B')}
        <label className="field">
          <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} />
          Only differing
        </label>
      </div>
      <p className="muted" aria-live="polite">
        {differing} of {keys.length} settings differ (marked ≠).
      </p>
      <div style={{ maxHeight: 320, overflowY: 'auto' }}>
        <table>
          <thead>
            <tr>
              <th scope="col">Setting</th>
              <th scope="col">{ra?.label ?? 'A'}</th>
              <th scope="col">{rb?.label ?? 'B'}</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => {
              const diff = fa[k] !== fb[k];
              if (onlyDiff && !diff) return null;
              return (
                <tr key={k} data-differs={diff} style={diff ? { background: '#fff4d6' } : undefined}>
                  <th scope="row" style={{ fontWeight: diff ? 700 : 400 }}>
                    {diff && <span aria-label="differs">≠ </span>}
                    <code>{k}</code>
                  </th>
                  <td>{fa[k] ?? '–'}</td>
                  <td>{fb[k] ?? '–'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function SavedRuns() {
  const ids = useStore(useShallow((s) => s.runOrder));
  const storedCount = useStore((s) => Object.keys(s.storedKeys).length);
  const ourBytes = useStore((s) => Object.values(s.storedBytes).reduce((a, b) => a + b, 0));
  const usage = useStore((s) => s.storageUsage);
  const quota = useStore((s) => s.storageQuota);
  const error = useStore((s) => s.persistError);
  const persisted = useStore((s) => s.storagePersisted);
  return (
    <section className="panel" aria-labelledby="saved-title" data-testid="saved-runs" style={wide}>
      <h2 id="saved-title">Runs kept in this browser</h2>
      <p className="muted" data-testid="storage-used">
        {storedCount} run{storedCount === 1 ? '' : 's'} stored, {formatBytes(ourBytes)} by our count
        {usage !== undefined && <> · this site uses {formatBytes(usage)}{quota !== undefined && <> of {formatBytes(quota)}</>} (browser estimate, Hub cache included)</>}
        {persisted === false && ', which the browser may clear when space runs low'}.
        Finished runs are saved with their default export; after a reload, load the model a run trained on to export other formats or generate with it.
      </p>
      {error && (
        <p className="problem" role="alert">
          Storage: {error.message}
        </p>
      )}
      <div style={{ overflowX: 'auto' }}>
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Trained on</th>
              <th scope="col">Stored</th>
              <th scope="col">Export</th>
              <th scope="col">
                <span className="visually-hidden">Delete</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {ids.map((id) => (
              <SavedRow key={id} id={id} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function SavedRow({ id }: { id: string }) {
  const label = useStore((s) => s.runs[id]?.label ?? id);
  const phase = useStore((s) => s.runs[id]?.phase);
  const model = useStore((s) => s.runs[id]?.model.name);
  const precision = useStore((s) => s.runs[id]?.model.precision);
  const loaded = useStore((s) => (s.modelStatus === 'ready' ? s.model : undefined));
  const modelLoading = useStore((s) => s.modelStatus === 'loading');
  const loadBuiltin = useStore((s) => s.loadBuiltin);
  const basePrecision = (['f32', 'q8', 'q4', 'nf4'] as const).find((p) => p === precision);
  const otherPrecision = !!loaded && loaded.name === model && loaded.precision !== precision;
  const bytes = useStore((s) => s.storedBytes[id]);
  const stored = useStore((s) => id in s.storedKeys);
  const usable = useStore((s) => runUsable(s, id));
  const restoreError = useStore((s) => s.restoreErrors[id]);
  const renameRun = useStore((s) => s.renameRun);
  const deleteRun = useStore((s) => s.deleteRun);
  const [draft, setDraft] = useState(label);
  useEffect(() => setDraft(label), [label]);
  const finished = phase === 'done' || phase === 'stopped' || phase === 'failed';
  const commit = () => {
    const v = draft.trim();
    if (v && v !== label) renameRun(id, v);
    else setDraft(label);
  };
  return (
    <tr data-run={id} data-testid={`saved-${id}`}>
      <td>
        <input
          aria-label={`Name of run ${id}`}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === 'Enter') commit();
            if (e.key === 'Escape') setDraft(label);
          }}
          style={{ width: '14rem' }}
        />
      </td>
      <td>
        {phase}
        {finished && phase !== 'failed' && (
          <span className="muted" title={restoreError} data-testid={`saved-state-${id}`}>
            {' '}
            · {usable ? 'ready' : restoreError ? `not restored: ${restoreError}` : otherPrecision ? `trained on the ${precision} base; ${loaded?.precision} is loaded (its outputs would differ)` : `load ${model} (${precision}) to use`}
          </span>
        )}
        {finished && phase !== 'failed' && !usable && model?.startsWith('builtin:') && basePrecision && (
          <button type="button" className="small secondary" disabled={modelLoading} data-testid={`load-base-${id}`} onClick={() => void loadBuiltin(model.slice('builtin:'.length), basePrecision)}>
            Load {model.slice('builtin:'.length)} as {precision}
          </button>
        )}
      </td>
      <td>
        <code>{model}</code> <span className="muted">({precision})</span>
      </td>
      <td data-testid={`stored-bytes-${id}`}>{stored ? formatBytes(bytes) : finished ? 'saving…' : '–'}</td>
      <td>
        <ExportButtons runId={id} />
      </td>
      <td>
        <button type="button" aria-label={`Delete run ${label}`} disabled={!finished} title={finished ? 'Delete this run and its stored files' : 'Stop the run first'} onClick={() => void deleteRun(id)} style={{ padding: '0.2rem 0.6rem', background: '#fff', color: '#b42318', borderColor: '#b42318' }}>
          Delete
        </button>
      </td>
    </tr>
  );
}
