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
