// Live charts of the runs ticked in the runs table: loss (train, EMA-smoothed, and eval),
// GPU memory by ledger category, and tokens/s. Each chart selects only the runs it shows;
// the store applies streamed steps once per animation frame, and recharts does not animate.

import { useRef, useState, type RefObject } from 'react';
import { downloadBytes, safeName } from '../persist.ts';
import { chartSvg, svgToPng } from './export.ts';
import { useChartRuns } from './useChartRuns.ts';
import { useStore } from '../store/index.ts';
import { LossChart } from './LossChart.tsx';
import { MemoryChart } from './MemoryChart.tsx';
import { ThroughputChart } from './ThroughputChart.tsx';
import { X_LABELS, type XAxisKind } from './series.ts';

export function ChartsPanel() {
  const count = useStore((s) => s.runOrder.length);
  const [xKind, setXKind] = useState<XAxisKind>('step');
  const [smooth, setSmooth] = useState(0.6);
  const [logY, setLogY] = useState(false);
  const chartsRef = useRef<HTMLDivElement>(null);
  if (count === 0) return null;
  return (
    <section className="panel wide" aria-labelledby="charts-title" data-testid="charts-panel">
      <h2 id="charts-title">Live charts</h2>
      <p className="muted">The runs ticked in the Chart column above are drawn on top of each other.</p>
      <div className="row-buttons chart-controls">
        <label className="field">
          X axis
          <select value={xKind} onChange={(e) => setXKind(e.target.value === 'tokens' ? 'tokens' : e.target.value === 'wall' ? 'wall' : 'step')}>
            {(Object.keys(X_LABELS) as XAxisKind[]).map((k) => (
              <option key={k} value={k}>
                {X_LABELS[k]}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Smoothing
          <input type="range" min={0} max={0.99} step={0.01} value={smooth} onChange={(e) => setSmooth(Number(e.target.value))} aria-valuetext={smooth.toFixed(2)} />
          <output>{smooth.toFixed(2)}</output>
        </label>
        <label className="field">
          <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} />
          Log-scale loss
        </label>
      </div>
      <div className="charts" ref={chartsRef}>
        <LossChart xKind={xKind} smooth={smooth} logY={logY} />
        <MemoryChart xKind={xKind} />
        <ThroughputChart xKind={xKind} />
      </div>
      <ChartDownloads root={chartsRef} />
    </section>
  );
}

const CHARTS = [
  { id: 'loss-chart', name: 'loss', title: 'Loss' },
  { id: 'memory-chart', name: 'memory', title: 'GPU memory by category' },
  { id: 'throughput-chart', name: 'tokens-per-second', title: 'Tokens per second' },
] as const;

/** Each chart as it is drawn now (the ticked runs), as an SVG or PNG file. */
function ChartDownloads({ root }: { root: RefObject<HTMLDivElement | null> }) {
  const runs = useChartRuns();
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();
  const who = runs.map((r) => r.label).join(', ');
  const save = async (c: (typeof CHARTS)[number], kind: 'svg' | 'png') => {
    try {
      const fig = root.current?.querySelector(`[data-testid="${c.id}"]`);
      if (!fig) throw new Error(`no ${c.title} chart on the page`);
      const { svg, width, height } = chartSvg(fig, `${c.title}: ${who}`);
      const name = `webtune-${c.name}-${safeName(runs.map((r) => r.label).join('+')).slice(0, 80) || 'runs'}.${kind}`;
      if (kind === 'svg') downloadBytes(name, new TextEncoder().encode(svg), 'image/svg+xml');
      else downloadBytes(name, await svgToPng(svg, width, height), 'image/png');
      setMessage({ ok: true, text: name });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    }
  };
  if (!runs.length) return null;
  return (
    <div className="chart-tools" role="group" aria-label="Download the charts">
      <span className="muted">Download the charts of {who}:</span>
      {CHARTS.map((c) =>
        (['svg', 'png'] as const).map((k) => (
          <button key={`${c.id}-${k}`} type="button" className="small secondary" data-testid={`chart-${c.name}-${k}`} onClick={() => void save(c, k)}>
            {c.title} {k.toUpperCase()}
          </button>
        )),
      )}
      <span aria-live="polite" className={message?.ok === false ? 'problem small' : 'muted small'}>
        {message?.text}
      </span>
    </div>
  );
}
