import { memo, useMemo } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useStore } from '../store/index.ts';
import { useChartRuns } from './useChartRuns.ts';
import { niceTicks, tickText } from './ticks.ts';
import { colorOf, evalSeries, lossSeries, X_LABELS, type XAxisKind } from './series.ts';

const fmt = (n: number) => (Math.abs(n) >= 1e4 ? n.toExponential(1) : Number(n.toPrecision(4)).toString());

/** Train loss (solid, smoothed) and eval loss (dashed, dots) of each shown run. */
export const LossChart = memo(function LossChart({ xKind, smooth, logY }: { xKind: XAxisKind; smooth: number; logY: boolean }) {
  const runs = useChartRuns();
  const order = useStore((s) => s.runOrder);
  const series = useMemo(() => runs.map((r) => ({ r, train: lossSeries(r, xKind, smooth), evals: evalSeries(r, xKind), color: colorOf(order, r.id) })), [runs, xKind, smooth, order]);
  const points = runs.reduce((a, r) => a + r.steps.length, 0);
  const ys = series.flatMap((x) => [...x.train, ...x.evals].map((p) => p.y)).filter(Number.isFinite);
  const ticks = !logY && ys.length ? niceTicks(Math.min(...ys), Math.max(...ys)) : undefined;
  return (
    <figure className="chart" data-testid="loss-chart" data-points={points} data-runs={runs.length}>
      <figcaption>Loss{smooth > 0 ? ' (train smoothed)' : ''}</figcaption>
      <ResponsiveContainer width="100%" height={240}>
        <LineChart margin={{ top: 8, right: 16, bottom: 18, left: 4 }}>
          <CartesianGrid stroke="#edf0f3" />
          <XAxis type="number" dataKey="x" domain={['dataMin', 'dataMax']} tickFormatter={fmt} label={{ value: X_LABELS[xKind], position: 'insideBottom', offset: -10 }} allowDuplicatedCategory={false} padding={{ left: 4, right: 10 }} />
          <YAxis
            type="number"
            scale={logY ? 'log' : 'linear'}
            domain={ticks ? [ticks[0], ticks[ticks.length - 1]] : ['auto', 'auto']}
            ticks={ticks}
            allowDataOverflow={logY}
            tickFormatter={ticks ? tickText(ticks) : fmt}
            width={64}
            label={{ value: logY ? 'Loss (log scale)' : 'Loss', angle: -90, position: 'insideLeft', offset: 10, style: { textAnchor: 'middle' } }}
          />
          <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(x) => `${X_LABELS[xKind]} ${fmt(Number(x))}`} />
          {series.map(({ r, train, color }) => (
            <Line key={`${r.id}-train`} data={train} dataKey="y" name={r.label} stroke={color} dot={false} strokeWidth={2} isAnimationActive={false} />
          ))}
          {series.map(({ r, evals, color }) =>
            evals.length ? <Line key={`${r.id}-eval`} data={evals} dataKey="y" name={`${r.label} (eval)`} stroke={color} strokeDasharray="5 4" dot={{ r: 3 }} isAnimationActive={false} /> : null,
          )}
        </LineChart>
      </ResponsiveContainer>
      <ul className="chart-legend" aria-hidden="true">
        {series.map(({ r, color }) => (
          <li key={r.id}>
            <span className="line" style={{ borderColor: color }} />
            {r.label}
          </li>
        ))}
        {series.some((x) => x.evals.length) && (
          <li className="muted">
            <span className="line dashed" style={{ borderColor: '#5b6472' }} />
            eval (held out)
          </li>
        )}
      </ul>
      <ul className="visually-hidden" data-testid="loss-summary">
        {runs.map((r) => (
          <li key={r.id} data-run={r.id} data-points={r.steps.length} data-first={r.steps[0]?.loss ?? ''} data-last={r.steps.at(-1)?.loss ?? ''}>
            {r.label}: {r.steps.length} steps, last loss {r.steps.at(-1)?.loss.toFixed(4) ?? 'none yet'}
          </li>
        ))}
      </ul>
    </figure>
  );
});
