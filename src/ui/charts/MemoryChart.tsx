import { memo, useMemo, useState } from 'react';
import { Area, CartesianGrid, ComposedChart, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { fmtBytes } from '../../engine/gpu/arena.ts';
import { LEDGER_CATEGORIES } from '../../engine/gpu/ledger.ts';
import { CATEGORY_COLORS } from '../MethodPanel.tsx';
import { useChartRuns } from './useChartRuns.ts';
import { strideIndices, X_LABELS, xOf, type XAxisKind } from './series.ts';

/** "976 KiB", "1.9 MiB": three significant digits at most, for axis ticks. */
function shortBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number(n.toPrecision(3))} ${units[i]}`;
}

/** Round ticks from 0 past `max` bytes: 1, 2 or 5 × 10^k of the largest unit under it. */
function byteTicks(max: number): number[] {
  if (!(max > 0)) return [0];
  const unit = max >= 2 ** 30 ? 2 ** 30 : max >= 2 ** 20 ? 2 ** 20 : max >= 1024 ? 1024 : 1;
  const raw = max / unit / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((x) => x * p).find((x) => x >= raw) ?? 10 * p) * unit;
  const ticks = [0];
  while (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

const fmtX = (n: number) => (Math.abs(n) >= 1e4 ? n.toExponential(1) : Number(n.toPrecision(4)).toString());

/** GPU bytes of one shown run at each step, stacked by ledger category: the peak of each
 *  category within the step (activations and gradients exist only inside it), or what was
 *  live after it for runs stored before steps carried their peaks. */
export const MemoryChart = memo(function MemoryChart({ xKind }: { xKind: XAxisKind }) {
  const runs = useChartRuns();
  const [picked, setPicked] = useState<string>();
  // The run picked, else the one training now, else the latest with steps.
  const run = runs.find((r) => r.id === picked) ?? runs.find((r) => r.phase === 'running') ?? [...runs].reverse().find((r) => r.steps.length > 0) ?? runs.at(-1);
  const data = useMemo(() => {
    if (!run) return [];
    return strideIndices(run.steps.length).map((i) => {
      const p = run.steps[i];
      const bytes = p.stepPeak ?? p.memory;
      return { x: xOf(p, xKind), ...Object.fromEntries(LEDGER_CATEGORIES.map((c) => [c, bytes[c]])), total: bytes.total, peak: p.memory.peak };
    });
  }, [run, xKind]);
  const maxTotal = data.reduce((a, d) => Math.max(a, d.total), 0);
  const ticks = byteTicks(data.reduce((a, d) => Math.max(a, d.total, d.peak), 0));
  return (
    <figure className="chart" data-testid="memory-chart" data-points={data.length} data-max-total={maxTotal}>
      <figcaption>
        GPU memory by category (peak in each step){' '}
        <label className="field inline">
          <span className="visually-hidden">Run shown in the memory chart</span>
          <select value={run?.id ?? ''} onChange={(e) => setPicked(e.target.value)} disabled={runs.length < 2}>
            {runs.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      </figcaption>
      <ResponsiveContainer width="100%" height={240}>
        <ComposedChart data={data} margin={{ top: 8, right: 16, bottom: 18, left: 4 }}>
          <CartesianGrid stroke="#edf0f3" />
          <XAxis type="number" dataKey="x" domain={['dataMin', 'dataMax']} tickFormatter={fmtX} label={{ value: X_LABELS[xKind], position: 'insideBottom', offset: -10 }} padding={{ left: 4, right: 8 }} />
          <YAxis tickFormatter={shortBytes} width={76} ticks={ticks} domain={[0, ticks[ticks.length - 1]]} />
          <Tooltip formatter={(v) => (typeof v === 'number' ? fmtBytes(v) : String(v))} labelFormatter={(x) => `${X_LABELS[xKind]} ${fmtX(Number(x))}`} />
          {LEDGER_CATEGORIES.map((c) => (
            <Area key={c} type="stepAfter" dataKey={c} stackId="mem" stroke={CATEGORY_COLORS[c]} fill={CATEGORY_COLORS[c]} fillOpacity={0.6} isAnimationActive={false} />
          ))}
          <Line type="stepAfter" dataKey="peak" name="peak so far" stroke="#b42318" strokeDasharray="4 3" dot={false} isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
      <ul className="chart-legend" aria-hidden="true">
        {[...LEDGER_CATEGORIES].reverse().map((c) => (
          <li key={c}>
            <span className="swatch" style={{ background: CATEGORY_COLORS[c] }} />
            {c}
          </li>
        ))}
        <li>
          <span className="line dashed" style={{ borderColor: '#b42318' }} />
          peak of the run so far
        </li>
      </ul>
      <p className="muted small" data-testid="memory-latest">
        {run?.steps.length ? `${run.label}: ${fmtBytes(run.steps.at(-1)?.memory.total ?? 0)} live between steps, ${fmtBytes(run.steps.at(-1)?.memory.peak ?? 0)} peak` : 'No steps yet.'}
      </p>
    </figure>
  );
});
