// Live charts of the runs ticked in the runs table: loss (train, EMA-smoothed, and eval),
// GPU memory by ledger category, and tokens/s. Each chart selects only the runs it shows;
// the store applies streamed steps once per animation frame, and recharts does not animate.

import { useState } from 'react';
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
      <div className="charts">
        <LossChart xKind={xKind} smooth={smooth} logY={logY} />
        <MemoryChart xKind={xKind} />
        <ThroughputChart xKind={xKind} />
      </div>
    </section>
  );
}
