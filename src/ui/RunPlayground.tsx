import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useStore } from './store/index.ts';
import { BASE_TARGET, runUsable } from './store/persistSlice.ts';

/**
 * One prompt through the base model and any chosen finished runs, side by side. The worker
 * runs one generation at a time and its 'token' events carry no run id, so the columns are
 * generated one after another, each streaming in while it runs.
 */
export function RunPlayground() {
  const ready = useStore((s) => s.modelStatus === 'ready');
  const modelName = useStore((s) => s.model?.name);
  // Runs the worker can generate with now (finished here, or restored after a reload).
  const usable = useStore(useShallow((s) => s.runOrder.filter((id) => runUsable(s, id))));
  const labels = useStore(useShallow((s) => usable.map((id) => s.runs[id]?.label ?? id)));
  const playing = useStore((s) => s.playing);
  const playAll = useStore((s) => s.playAll);
  const [prompt, setPrompt] = useState('And God said');
  const [maxNewTokens, setMax] = useState(24);
  const [temperature, setTemperature] = useState(0);
  const [chosen, setChosen] = useState<Record<string, boolean>>({ [BASE_TARGET]: true });
  if (!ready) return null;
  const targets = [BASE_TARGET, ...usable].filter((t) => chosen[t] ?? t !== BASE_TARGET);
  const labelOf = (t: string) => (t === BASE_TARGET ? `Base (${modelName})` : labels[usable.indexOf(t)] ?? t);
  return (
    <section className="panel" aria-labelledby="runplay-title" data-testid="run-playground" style={{ gridColumn: '1 / -1' }}>
      <h2 id="runplay-title">Playground: base and runs side by side</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void playAll({ prompt, maxNewTokens, temperature, topK: 0, topP: 0.95, seed: 0 }, targets);
        }}
      >
        <label className="field block">
          Text to continue, the same for every model
          <textarea value={prompt} rows={2} onChange={(e) => setPrompt(e.target.value)} data-testid="runplay-prompt" />
        </label>
        <fieldset style={{ border: 'none', padding: 0, margin: '0.4rem 0' }}>
          <legend className="muted">Generate with</legend>
          {[BASE_TARGET, ...usable].map((t) => (
            <label key={t} className="field">
              <input type="checkbox" checked={chosen[t] ?? t !== BASE_TARGET} onChange={(e) => setChosen((c) => ({ ...c, [t]: e.target.checked }))} data-testid={`runplay-pick-${t}`} />
              {labelOf(t)}
            </label>
          ))}
          {usable.length === 0 && <span className="muted">Finished runs on this model appear here.</span>}
        </fieldset>
        <div className="row-buttons">
          <label className="field">
            Tokens to add <input type="number" min={1} max={512} value={maxNewTokens} onChange={(e) => setMax(Math.max(1, Number(e.target.value) || 1))} />
          </label>
          <label className="field">
            Sampling <abbr title="temperature">temp.</abbr> <input type="number" min={0} max={2} step={0.1} value={temperature} onChange={(e) => setTemperature(Math.max(0, Number(e.target.value) || 0))} />
          </label>
          <button type="submit" disabled={playing || targets.length === 0}>
            {playing ? 'Running…' : `Run side by side (${targets.length})`}
          </button>
        </div>
      </form>
      <Outputs labelOf={labelOf} />
    </section>
  );
}

function Outputs({ labelOf }: { labelOf: (t: string) => string }) {
  const prompt = useStore((s) => s.playPrompt);
  const keys = useStore(useShallow((s) => Object.keys(s.playOutputs)));
  if (keys.length === 0) return null;
  return (
    <div style={{ display: 'grid', gridTemplateColumns: `repeat(${Math.min(keys.length, 3)}, minmax(0, 1fr))`, gap: '0.75rem' }}>
      {keys.map((k) => (
        <Output key={k} id={k} label={labelOf(k)} prompt={prompt} />
      ))}
    </div>
  );
}

function Output({ id, label, prompt }: { id: string; label: string; prompt: string }) {
  const out = useStore((s) => s.playOutputs[id]);
  if (!out) return null;
  return (
    <figure style={{ margin: 0 }} data-testid={`runplay-out-${id}`} data-status={out.status}>
      <figcaption style={{ fontWeight: 600 }}>
        {label} <span className="muted">{out.status === 'queued' ? '· waiting' : out.status === 'running' ? '· generating…' : ''}</span>
      </figcaption>
      <p className="generated" aria-live="polite" aria-busy={out.status === 'running'} data-testid={`runplay-text-${id}`}>
        <span className="muted">{prompt}</span>
        {out.text}
      </p>
      {out.status === 'done' && out.tokens !== undefined && out.ms !== undefined && (
        <p className="muted" data-testid={`runplay-stats-${id}`}>
          {out.tokens} tokens in {(out.ms / 1000).toFixed(1)} s
        </p>
      )}
      {out.status === 'error' && (
        <p className="problem" role="alert">
          {out.error}
        </p>
      )}
    </figure>
  );
}
