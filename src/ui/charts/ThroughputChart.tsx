import { memo, useMemo } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useStore } from '../store/index.ts';
import { useChartRuns } from './useChartRuns.ts';
import { niceTicks, tickText } from './ticks.ts';
import { TOKENS_PER_SEC_HELP } from '../run-stats.ts';
import { colorOf, strideIndices, X_LABELS, xOf, type XAxisKind } from './series.ts';

const fmt = (n: number) => (Math.abs(n) >= 1e4 ? n.toExponential(1) : Number(n.toPrecision(4)).toString());

/** Tokens per second at each step of each shown run. */
export const ThroughputChart = memo(function ThroughputChart({ xKind }: { xKind: XAxisKind }) {
  const runs = useChartRuns();
  const order = useStore((s) => s.runOrder);
  const series = useMemo(
    () => runs.map((r) => ({ r, color: colorOf(order, r.id), data: strideIndices(r.steps.length).map((i) => ({ x: xOf(r.steps[i], xKind), y: r.steps[i].tokensPerSec })) })),
    [runs, xKind, order],
  );
  const ys = series.flatMap((x) => x.data.map((p) => p.y)).filter(Number.isFinite);
  const ticks = ys.length ? niceTicks(0, Math.max(...ys)) : undefined;
  return (
    <figure className="chart" data-testid="throughput-chart" data-points={runs.reduce((a, r) => a + r.steps.length, 0)}>
      <figcaption>
        <span className="help-term" title={TOKENS_PER_SEC_HELP}>Tokens per second</span> (each step)
      </figcaption>
      <ResponsiveContainer width="100%" height={240}>
        <LineChart margin={{ top: 8, right: 16, bottom: 18, left: 4 }}>
          <CartesianGrid stroke="#edf0f3" />
          <XAxis type="number" dataKey="x" domain={['dataMin', 'dataMax']} tickFormatter={fmt} label={{ value: X_LABELS[xKind], position: 'insideBottom', offset: -10 }} allowDuplicatedCategory={false} padding={{ left: 4, right: 10 }} />
          <YAxis
            tickFormatter={ticks ? tickText(ticks) : fmt}
            ticks={ticks}
            domain={ticks ? [ticks[0], ticks[ticks.length - 1]] : [0, 'auto']}
            width={64}
            label={{ value: 'Tokens/s', angle: -90, position: 'insideLeft', offset: 10, style: { textAnchor: 'middle' } }}
          />
          <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(0) : String(v))} labelFormatter={(x) => `${X_LABELS[xKind]} ${fmt(Number(x))}`} />
          {series.map(({ r, data, color }) => (
            <Line key={r.id} data={data} dataKey="y" name={r.label} stroke={color} dot={false} strokeWidth={2} isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
});
