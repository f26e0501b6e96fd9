import { fmtBytes } from '../engine/gpu/arena.ts';
import { useStore } from './store/index.ts';

const FEATURES = [
  ['shader-f16', 'f16 arithmetic in shaders'],
  ['subgroups', 'subgroup operations'],
  ['timestamp-query', 'GPU timestamps'],
] as const;

const LIMITS = [
  ['maxBufferSize', 'Largest buffer'],
  ['maxStorageBufferBindingSize', 'Largest storage binding'],
  ['maxComputeWorkgroupStorageSize', 'Workgroup memory'],
  ['maxComputeInvocationsPerWorkgroup', 'Threads per workgroup'],
] as const;

const pct = (x: number) => `${(100 * x).toFixed(0)} %`;

/** "Benchmark this GPU": the worker runs the copy, matmul, training and decoding benchmarks
 *  (engine/bench/suite.ts, the set `npm run bench:gpu` runs in Node) and this shows the table. */
function Benchmark() {
  const r = useStore((s) => s.bench);
  const running = useStore((s) => s.benchRunning);
  const error = useStore((s) => s.benchError);
  const run = useStore((s) => s.runBenchmark);
  return (
    <div data-testid="gpu-benchmark">
      <h3>Benchmark</h3>
      <button type="button" onClick={() => void run()} disabled={running}>
        {running ? 'Benchmarking… (a minute or more)' : 'Benchmark this GPU'}
      </button>
      {error && <p className="problem" role="alert">The benchmark stopped: {error.message}</p>}
      {r && (
        <>
          <p className="muted">
            Copy {r.copy.gbps.toFixed(2)} GB/s; best matmul {Math.max(0, ...r.matmul.map((m) => m.gflops)).toFixed(2)} GFLOPS. Ratios are
            within this run: training against the matmul roofline at each layer's shape, decoding against the copy bandwidth.
          </p>
          <table data-testid="gpu-benchmark-table">
            <thead>
              <tr><th>benchmark</th><th>ms</th><th>tokens/s</th><th>of roofline / bandwidth</th><th>buffers created</th><th>submits</th></tr>
            </thead>
            <tbody>
              {r.train.map((t) => (
                <tr key={`t${t.label}`}><td>train {t.label} (B={t.B}, T={t.T})</td><td>{t.msPerStep.toFixed(0)} / step</td><td>{t.tokensPerSec.toFixed(0)}</td><td>{pct(t.rooflineFraction)}</td><td>{t.bufferCreations}</td><td>{t.submits}</td></tr>
              ))}
              {r.decode.map((d) => (
                <tr key={`d${d.label}`}><td>decode {d.label}</td><td>{d.msPerToken.toFixed(1)} / token</td><td>{d.tokensPerSec.toFixed(1)}</td><td>{pct(d.bandwidthFraction)}</td><td>{d.bufferCreations}</td><td>{d.submits}</td></tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

export function GpuPanel() {
  const a = useStore((s) => s.adapter);
  const messages = useStore((s) => s.deviceMessages);
  if (!a) return null;
  const others = a.features.filter((f) => !FEATURES.some(([named]) => named === f));
  return (
    <section className="panel" aria-labelledby="gpu-title" data-testid="gpu-panel">
      <h2 id="gpu-title">GPU</h2>
      <dl className="facts">
        <dt>Vendor</dt>
        <dd data-testid="gpu-vendor">{a.vendor}</dd>
        <dt>Architecture</dt>
        <dd data-testid="gpu-architecture">{a.architecture}</dd>
        <dt>Device</dt>
        <dd data-testid="gpu-device">{[a.description, a.device].filter(Boolean).join(' · ') || 'not reported by the browser'}</dd>
        <dt>Kind</dt>
        <dd>{a.isFallbackAdapter ? 'software fallback (runs on the CPU: slow, for testing)' : 'hardware'}</dd>
      </dl>
      <h3>Features</h3>
      <ul className="features" data-testid="gpu-features">
        {FEATURES.map(([f, what]) => {
          const has = a.features.includes(f);
          return (
            <li key={f} className={has ? 'yes' : 'no'} data-feature={f} data-present={has}>
              <span aria-hidden="true">{has ? '✓' : '✗'}</span> <code>{f}</code> — {what}: {has ? 'yes' : 'no'}
            </li>
          );
        })}
      </ul>
      {others.length > 0 && (
        <p className="muted">
          Also enabled: <code>{others.join(', ')}</code>
        </p>
      )}
      <h3>Limits</h3>
      <dl className="facts">
        {LIMITS.map(([k, label]) => (
          <div key={k} className="row">
            <dt>{label}</dt>
            <dd data-limit={k}>{k.endsWith('Size') ? fmtBytes(a.limits[k] ?? 0) : String(a.limits[k] ?? '?')}</dd>
          </div>
        ))}
      </dl>
      <Benchmark />
      {messages.length > 0 && (
        <div className="problem" role="status">
          <h3>Device messages</h3>
          <ul>
            {messages.map((m, i) => (
              <li key={i}>{m}</li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
