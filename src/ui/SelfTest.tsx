import { useStore } from './store/index.ts';

export function SelfTest() {
  const r = useStore((s) => s.selfTest);
  const running = useStore((s) => s.selfTestRunning);
  const error = useStore((s) => s.gpuError);
  const run = useStore((s) => s.runSelfTest);
  return (
    <section className="panel" aria-labelledby="selftest-title">
      <h2 id="selftest-title">Kernel self-test</h2>
      <p className="muted">Runs a WGSL kernel in the engine worker and compares it with its plain TypeScript reference.</p>
      <button type="button" onClick={() => void run()} disabled={running}>
        {running ? 'Running…' : 'Run kernel self-test'}
      </button>
      {r && (
        <p data-testid="selftest-result" className={r.maxAbsError < 1e-5 ? 'ok' : 'problem'}>
          <code>{r.kernel}</code> on {r.n} values: max |gpu − reference| = <span data-testid="selftest-error">{r.maxAbsError.toExponential(2)}</span>{' '}
          ({r.ms.toFixed(1)} ms) — {r.maxAbsError < 1e-5 ? 'pass' : 'FAIL'}
        </p>
      )}
      {error && !running && <p className="problem" role="alert">{`${error.name}: ${error.message}`}</p>}
    </section>
  );
}
