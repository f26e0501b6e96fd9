// The dataset the runs train on: a file picked or dropped (read here, parsed in the worker:
// JSONL, JSON, CSV or TXT) or a built-in sample; what was read, by kind; the rows that could
// not be read, with their line numbers (the rest still load); and the data settings.

import { useRef, useState, type DragEvent } from 'react';
import type { FieldMapping } from '../engine/data/dataset.ts';
import { useStore } from './store/index.ts';

const BUILTIN = [
  { name: 'kjv-verse-ref', label: 'kjv-verse-ref', about: 'prompt → completion: a verse reference and its chapter or verse number (scored by exact match)' },
  { name: 'kjv-style-chat', label: 'kjv-style-chat', about: 'chat: modern English in, King James English out' },
];

const MAPPING_FIELDS = ['text', 'prompt', 'completion', 'messages'] as const;

export function DataPanel() {
  const status = useStore((s) => s.dataStatus);
  const dataset = useStore((s) => s.dataset);
  const error = useStore((s) => s.dataError);
  const loadText = useStore((s) => s.loadDatasetText);
  const loadBuiltin = useStore((s) => s.loadBuiltinDataset);
  const [dragging, setDragging] = useState(false);
  const [mapping, setMapping] = useState<FieldMapping>({});
  const [mappingOpen, setMappingOpen] = useState(false);
  const last = useRef<{ name: string; content: string }>(undefined);
  const busy = status === 'loading';

  const mapped = (): FieldMapping | undefined => {
    const m = Object.fromEntries(Object.entries(mapping).filter(([, v]) => v && v.trim()).map(([k, v]) => [k, v.trim()]));
    return Object.keys(m).length ? m : undefined;
  };
  const readFile = (f: File | undefined) => {
    if (!f) return;
    void f.text().then((content) => {
      last.current = { name: f.name, content };
      return loadText(f.name, content, mapped());
    });
  };
  const onDragOver = (e: DragEvent) => {
    if (!e.dataTransfer.types.includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = busy ? 'none' : 'copy';
    setDragging(true);
  };
  const onDrop = (e: DragEvent) => {
    if (!e.dataTransfer.types.includes('Files')) return;
    e.preventDefault();
    setDragging(false);
    if (!busy) readFile(e.dataTransfer.files[0]);
  };

  return (
    <section
      className={`panel${dragging ? ' dragging' : ''}`}
      aria-labelledby="data-title"
      data-testid="data-panel"
      onDragEnter={onDragOver}
      onDragOver={onDragOver}
      onDragLeave={(e) => !(e.relatedTarget instanceof Node && e.currentTarget.contains(e.relatedTarget)) && setDragging(false)}
      onDrop={onDrop}
    >
      <h2 id="data-title">
        <span className="step-no">2</span> Data
      </h2>
      <p className="muted">
        A JSONL, JSON, CSV or TXT file (choose it or drop it here): rows of <code>text</code>, <code>prompt</code> /{' '}
        <code>completion</code>, or chat <code>messages</code>. It is read in this tab, never uploaded.
      </p>
      <div className="row-buttons">
        <label className="button">
          Choose file…
          <input type="file" className="visually-hidden" accept=".jsonl,.json,.csv,.txt,.tsv" data-testid="dataset-file" disabled={busy} onChange={(e) => (readFile(e.target.files?.[0]), (e.target.value = ''))} />
        </label>
        {BUILTIN.map((b) => (
          <button key={b.name} type="button" className="secondary" disabled={busy} title={b.about} onClick={() => void loadBuiltin(b.name)}>
            Sample: {b.label}
          </button>
        ))}
      </div>
      <details className="mapping" onToggle={(e) => setMappingOpen(e.currentTarget.open)}>
        <summary>Field mapping (optional)</summary>
        {mappingOpen && (
          <>
        <p className="muted">Which field of each record holds what; empty fields are detected (prompt/completion, input/output, question/answer, instruction/response, messages, text).</p>
        {MAPPING_FIELDS.map((k) => (
          <label key={k} className="field">
            {k}
            <input type="text" size={10} value={mapping[k] ?? ''} onChange={(e) => setMapping((m) => ({ ...m, [k]: e.target.value }))} />
          </label>
        ))}
        <button type="button" className="secondary" disabled={busy || !last.current} onClick={() => last.current && void loadText(last.current.name, last.current.content, mapped())}>
          Read the file again with this mapping
        </button>
          </>
        )}
      </details>
      {busy && <p role="status">Reading…</p>}
      {error && (
        <p className="problem" role="alert" data-testid="dataset-error">
          {error.name}: {error.message}
        </p>
      )}
      {dataset && (
        <>
          <dl className="facts" data-testid="dataset-summary">
            <dt>File</dt>
            <dd data-testid="dataset-name">{dataset.name}</dd>
            <dt>Format</dt>
            <dd data-testid="dataset-format">{dataset.format.toUpperCase()}</dd>
            <dt>Rows read</dt>
            <dd data-testid="dataset-rows">{dataset.rows.toLocaleString('en')}</dd>
            <dt>By kind</dt>
            <dd data-testid="dataset-kinds">
              {(['prompt', 'chat', 'text'] as const)
                .filter((k) => dataset.kinds[k] > 0)
                .map((k) => `${dataset.kinds[k].toLocaleString('en')} ${k === 'prompt' ? 'prompt/completion' : k}`)
                .join(', ') || 'none'}
            </dd>
            <dt>Unreadable rows</dt>
            <dd data-testid="dataset-error-count" className={dataset.errorCount ? 'problem' : undefined}>
              {dataset.errorCount}
            </dd>
          </dl>
          {dataset.errorCount > 0 && (
            <div className="row-errors">
              <p className="muted">
                These rows were skipped; the other {dataset.rows} rows loaded.
                {dataset.errorCount > dataset.errors.length && ` The first ${dataset.errors.length} of ${dataset.errorCount} are listed.`}
              </p>
              <ul data-testid="dataset-errors">
                {dataset.errors.map((e) => (
                  <li key={`${e.line}:${e.message}`} data-line={e.line}>
                    <strong>line {e.line}</strong>: {e.message}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </>
      )}
      <DataSettingsForm />
    </section>
  );
}

function DataSettingsForm() {
  const d = useStore((s) => s.dataSettings);
  const setD = useStore((s) => s.setDataSettings);
  const num = (v: string, lo: number, hi: number, int: boolean) => {
    const n = Number(v);
    if (!Number.isFinite(n)) return undefined;
    const c = Math.min(hi, Math.max(lo, n));
    return int ? Math.round(c) : c;
  };
  return (
    <fieldset className="settings">
      <legend>Data settings</legend>
      <label className="field" title="Share of the rows held out for the eval loss and the metric.">
        Held out for eval (fraction)
        <input type="number" min={0} max={0.5} step={0.05} value={d.evalFraction} aria-describedby="eval-fraction-help" onChange={(e) => { const n = num(e.target.value, 0, 0.5, false); if (n !== undefined) setD({ evalFraction: n }); }} />
      </label>
      <span id="eval-fraction-help" className="visually-hidden">A fraction between 0 and 0.5 of the rows.</span>
      <label className="field" title="Prompt tokens and user turns get no loss: the model learns the answers, not the questions.">
        <input type="checkbox" checked={d.maskPrompt} onChange={(e) => setD({ maskPrompt: e.target.checked })} />
        Train on completions and assistant turns only
      </label>
      <label className="field">
        <input type="checkbox" checked={d.pack} onChange={(e) => setD({ pack: e.target.checked })} />
        Pack examples into full sequences
      </label>
      <label className="field" title="Held-out prompt rows scored by exact match at each eval (0: none).">
        Exact-match rows
        <input type="number" min={0} max={1000} step={1} value={d.metricRows} onChange={(e) => { const n = num(e.target.value, 0, 1000, true); if (n !== undefined) setD({ metricRows: n }); }} />
      </label>
    </fieldset>
  );
}
