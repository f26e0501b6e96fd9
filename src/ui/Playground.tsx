import { useState } from 'react';
import { useStore } from './store/index.ts';

/** One prompt through the loaded model, tokens streaming in. */
export function Playground() {
  const ready = useStore((s) => s.modelStatus === 'ready');
  const generating = useStore((s) => s.generating);
  const text = useStore((s) => s.generated);
  const result = useStore((s) => s.genResult);
  const generate = useStore((s) => s.generate);
  const [prompt, setPrompt] = useState('Once upon a time');
  const [maxNewTokens, setMax] = useState(48);
  const [temperature, setTemperature] = useState(0);
  if (!ready) return null;
  return (
    <section className="panel" aria-labelledby="play-title">
      <h2 id="play-title">Try it</h2>
      <label className="field block">
        Prompt
        <textarea value={prompt} rows={3} onChange={(e) => setPrompt(e.target.value)} />
      </label>
      <div className="row-buttons">
        <label className="field">
          New tokens <input type="number" min={1} max={512} value={maxNewTokens} onChange={(e) => setMax(Math.max(1, Number(e.target.value) || 1))} />
        </label>
        <label className="field">
          Temperature <input type="number" min={0} max={2} step={0.1} value={temperature} onChange={(e) => setTemperature(Math.max(0, Number(e.target.value) || 0))} />
        </label>
        <button type="button" disabled={generating} onClick={() => void generate({ prompt, maxNewTokens, temperature, topK: 0, topP: 0.95, seed: 0 })}>
          {generating ? 'Generating…' : 'Generate'}
        </button>
      </div>
      <p className="generated" data-testid="generated" aria-live="polite">
        <span className="muted">{prompt}</span>
        {text}
      </p>
      {result && (
        <p className="muted" data-testid="gen-stats">
          {result.tokens} tokens in {(result.ms / 1000).toFixed(1)} s ({((result.tokens / result.ms) * 1000).toFixed(1)} tokens/s)
        </p>
      )}
    </section>
  );
}
