import { useEffect } from 'react';
import { ChartsPanel } from './charts/ChartsPanel.tsx';
import { ComparePanel } from './ComparePanel.tsx';
import { DataPanel } from './DataPanel.tsx';
import { GpuPanel } from './GpuPanel.tsx';
import { LedgerTable } from './LedgerTable.tsx';
import { MethodPanel } from './MethodPanel.tsx';
import { ModelPanel } from './ModelPanel.tsx';
import { Playground } from './Playground.tsx';
import { RunsPanel } from './RunsPanel.tsx';
import { SelfTest } from './SelfTest.tsx';
import { savedToken } from './HubForm.tsx';
import { restoredSession, useStore } from './store/index.ts';

export function App() {
  const status = useStore((s) => s.gpuStatus);
  const probe = useStore((s) => s.probe);
  useEffect(() => {
    void probe();
  }, [probe]);
  // The dataset chosen before a reload comes back (a sample, or a Hub dataset from the cache).
  useEffect(() => {
    if (status !== 'ready') return;
    const s = useStore.getState();
    const c = restoredSession.dataChoice;
    if (s.dataset || s.dataStatus === 'loading' || !c || s.dataChoice !== c) return;
    if (c.kind === 'builtin') void s.loadBuiltinDataset(c.name);
    else if (c.kind === 'hub') void s.loadHubDataset({ ...c.req, token: savedToken() || undefined }, c.mapping);
  }, [status]);

  return (
    <div className="app">
      <header className="top">
        <h1>webtune</h1>
        <p className="tagline">
          A fine-tuning studio that runs on your own GPU in this browser tab, through WebGPU. Models, data and
          adapters stay on this machine: nothing is uploaded.
        </p>
        {status === 'ready' && (
          <ol className="steps-guide" aria-label="How to fine-tune">
            <li>Load a model</li>
            <li>Pick a dataset</li>
            <li>Choose a method and its settings</li>
            <li>Start runs and watch them train</li>
          </ol>
        )}
      </header>
      <main>
        {status === 'idle' || status === 'probing' ? (
          <section className="panel" aria-busy="true">
            <h2>Looking for a GPU…</h2>
          </section>
        ) : status === 'ready' ? (
          <>
            <ModelPanel />
            <DataPanel />
            <MethodPanel />
            <RunsPanel />
            <ChartsPanel />
            <ComparePanel />
            <div className="span-all">
              <Playground />
            </div>
            <h2 className="section-title">Your GPU</h2>
            <div className="gpu-row">
              <GpuPanel />
              <SelfTest />
              <LedgerTable />
            </div>
          </>
        ) : (
          <Unavailable />
        )}
      </main>
    </div>
  );
}

function Unavailable() {
  const status = useStore((s) => s.gpuStatus);
  const error = useStore((s) => s.gpuError);
  const probe = useStore((s) => s.probe);
  return (
    <section className="panel problem" role="alert" data-testid="gpu-unavailable">
      <h2>{status === 'unavailable' ? 'WebGPU is not available in this browser' : 'The GPU could not be used'}</h2>
      <p className="advice">{error?.message ?? 'No details were given.'}</p>
      {error && <p className="muted">({error.name})</p>}
      <button type="button" onClick={() => void probe()}>
        Try again
      </button>
    </section>
  );
}
