// The dataset the runs train on: a file picked or dropped (its bytes sent to the worker and
// parsed there: JSONL, JSON, CSV, TXT or Parquet), a Hugging Face dataset by id (its Parquet
// files), or a built-in sample; what was read, by kind; the rows that could not be read, with
// their line or row numbers (the rest still load); the data settings; and a preview of the
// first rows exactly as the model will see them, trained spans highlighted, with a histogram
// of token lengths against the run's T.

import { useEffect, useId, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { DEFAULT_HUB_ENDPOINT, type DatasetPreview } from '../engine/api.ts';
import type { FieldMapping } from '../engine/data/dataset.ts';
import { fmtBytes } from '../engine/gpu/arena.ts';
import { savedToken } from './HubForm.tsx';
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
  const choice = useStore((s) => s.dataChoice);
  const loadFile = useStore((s) => s.loadDatasetFile);
  const loadBuiltin = useStore((s) => s.loadBuiltinDataset);
  const [dragging, setDragging] = useState(false);
  const [mapping, setMapping] = useState<FieldMapping>({});
  const [mappingOpen, setMappingOpen] = useState(false);
  const last = useRef<{ name: string; bytes: Uint8Array }>(undefined);
  const busy = status === 'loading';

  const mapped = (): FieldMapping | undefined => {
    const m = Object.fromEntries(Object.entries(mapping).filter(([, v]) => v && v.trim()).map(([k, v]) => [k, v.trim()]));
    return Object.keys(m).length ? m : undefined;
  };
  const readFile = (f: File | undefined) => {
    if (!f) return;
    void f.arrayBuffer().then((buf) => {
      const bytes = new Uint8Array(buf);
      last.current = { name: f.name, bytes };
      return loadFile(f.name, bytes, mapped());
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
        A JSONL, JSON, CSV, TXT or Parquet file (choose it or drop it here), or a dataset from the Hugging Face Hub: rows of <code>text</code>,{' '}
        <code>prompt</code> / <code>completion</code>, or chat <code>messages</code>. A file is read in this tab, never uploaded.
      </p>
      <div className="row-buttons">
        <label className="button">
          Choose file…
          <input type="file" className="visually-hidden" accept=".jsonl,.ndjson,.json,.csv,.txt,.md,.parquet" data-testid="dataset-file" disabled={busy} onChange={(e) => (readFile(e.target.files?.[0]), (e.target.value = ''))} />
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
        <button type="button" className="secondary" disabled={busy || !last.current} onClick={() => last.current && void loadFile(last.current.name, last.current.bytes, mapped())}>
          Read the file again with this mapping
        </button>
          </>
        )}
      </details>
      <HubDatasetForm mapping={mapped} busy={busy} />
      {busy && <p role="status">Reading…</p>}
      {error && (
        <div className="problem error-box" role="alert" data-testid="dataset-error">
          <p>
            {error.name}: {error.message}
          </p>
          {dataset && <p data-testid="dataset-kept">Nothing changed: the runs still train on {dataset.name}.</p>}
        </div>
      )}
      {!dataset && !busy && choice?.kind === 'file' && (
        <p className="muted" data-testid="dataset-reload-file">
          Before the reload the runs trained on the file <code>{choice.name}</code>: its contents were not kept, so choose it again (or another dataset).
        </p>
      )}
      {dataset && (
        <>
          <h3 className="loaded-title">The dataset runs will train on</h3>
          <dl className="facts" data-testid="dataset-summary">
            <dt>Source</dt>
            <dd data-testid="dataset-name">{dataset.name}</dd>
            <dt>Format</dt>
            <dd data-testid="dataset-format">{dataset.format.toUpperCase()}</dd>
            <dt>Rows read</dt>
            <dd data-testid="dataset-rows">{dataset.rows.toLocaleString('en')}</dd>
            {dataset.capped && (
              <>
                <dt>Row limit</dt>
                <dd data-testid="dataset-capped">
                  only the first {dataset.capped.at.toLocaleString('en')}
                  {dataset.capped.total !== undefined ? ` of ${dataset.capped.total.toLocaleString('en')}` : ''} rows were read
                </dd>
              </>
            )}
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
                    <strong>
                      {dataset.format === 'parquet' ? 'row' : 'line'} {e.line}
                    </strong>
                    : {e.message}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </>
      )}
      <DataSettingsForm />
      <Preview />
    </section>
  );
}

/** A dataset on the Hugging Face Hub by id, read from its Parquet files (the repo's own, or the Hub's conversion). */
function HubDatasetForm({ mapping, busy }: { mapping: () => FieldMapping | undefined; busy: boolean }) {
  const loadHub = useStore((s) => s.loadHubDataset);
  const [repo, setRepo] = useState('');
  const [config, setConfig] = useState('');
  const [split, setSplit] = useState('train');
  const [revision, setRevision] = useState('main');
  const [maxRows, setMaxRows] = useState('50000');
  const [endpoint, setEndpoint] = useState(DEFAULT_HUB_ENDPOINT);
  const [open, setOpen] = useState(false);
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const cap = Math.max(1, Math.round(Number(maxRows) || 50_000));
    void loadHub(
      { repo: repo.trim(), config: config.trim() || undefined, split: split.trim() || undefined, revision: revision.trim() || 'main', maxRows: cap, token: savedToken() || undefined, endpoint: endpoint.trim() || DEFAULT_HUB_ENDPOINT },
      mapping(),
    );
  };
  return (
    <form className="hub-dataset" aria-labelledby={`${id}-title`} onSubmit={submit} data-testid="hub-dataset-form">
      <h3 id={`${id}-title`}>From the Hugging Face Hub</h3>
      <label className="field">
        Dataset id{' '}
        <input value={repo} required placeholder="owner/name" spellCheck={false} autoComplete="off" size={24} onChange={(e) => setRepo(e.target.value)} />
      </label>
      <label className="field">
        Config <input value={config} placeholder="default" size={8} spellCheck={false} onChange={(e) => setConfig(e.target.value)} />
      </label>
      <label className="field">
        Split <input value={split} size={8} spellCheck={false} onChange={(e) => setSplit(e.target.value)} />
      </label>
      <label className="field" title="The first rows are read, file by file; a larger limit takes longer and holds more memory.">
        Row limit <input type="number" min={1} step={1} value={maxRows} aria-describedby={`${id}-cap`} onChange={(e) => setMaxRows(e.target.value)} />
      </label>
      <span id={`${id}-cap`} className="visually-hidden">At most this many rows are read.</span>
      <details onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary>Revision and server</summary>
        {open && (
          <>
            <label className="field">
              Dataset revision <input value={revision} size={10} spellCheck={false} onChange={(e) => setRevision(e.target.value)} />
            </label>
            <label className="field block">
              Hub server URL
              <input type="url" value={endpoint} spellCheck={false} onChange={(e) => setEndpoint(e.target.value)} />
            </label>
            <p className="muted">The access token remembered in step 1 is sent with the request, to this server only.</p>
          </>
        )}
      </details>
      <div className="row-buttons">
        <button type="submit" disabled={busy}>
          Load dataset
        </button>
      </div>
      <DataDownloads />
    </form>
  );
}

function DataDownloads() {
  const files = useStore((s) => s.dataDownloadFiles);
  const downloads = useStore((s) => s.dataDownloads);
  if (files.length === 0) return null;
  return (
    <ul className="downloads" aria-label="Dataset downloads" data-testid="dataset-downloads">
      {files.map((f) => {
        const d = downloads[f];
        const done = d.total !== undefined && d.loaded >= d.total;
        return (
          <li key={f} data-testid="dataset-download" data-file={f}>
            <code>{f}</code>{' '}
            <span className="muted">
              {fmtBytes(d.loaded)}
              {d.total !== undefined ? ` of ${fmtBytes(d.total)}` : ''}
              {d.fromCache ? ' (from cache)' : done ? ' (downloaded)' : ''}
            </span>
            <progress value={d.total ? d.loaded : undefined} max={d.total || undefined} aria-label={`${f} download`} />
          </li>
        );
      })}
    </ul>
  );
}

/** The first rows as the model will see them, and the token lengths against T. */
function Preview() {
  const datasetId = useStore((s) => s.dataset?.id);
  const modelName = useStore((s) => (s.modelStatus === 'ready' ? s.model?.name : undefined));
  const maskPrompt = useStore((s) => s.dataSettings.maskPrompt);
  const tText = useStore((s) => s.shape.T);
  const refresh = useStore((s) => s.refreshPreview);
  const preview = useStore((s) => s.preview);
  const status = useStore((s) => s.previewStatus);
  const error = useStore((s) => s.previewError);
  const T = Number(tText);
  const validT = Number.isInteger(T) && T >= 2;
  useEffect(() => {
    if (!datasetId || !modelName || !validT) return;
    const t = setTimeout(() => void refresh({ maskPrompt, maxTokens: T + 1 }), 150);
    return () => clearTimeout(t);
  }, [datasetId, modelName, maskPrompt, T, validT, refresh]);
  if (!datasetId) return null;
  return (
    <section className="preview" aria-labelledby="preview-title" data-testid="dataset-preview" aria-busy={status === 'loading'}>
      <h3 id="preview-title">What the model will see</h3>
      {!modelName ? (
        <p className="muted" data-testid="preview-needs-model">
          Load a model (step 1) to see these rows as its tokenizer and chat template turn them into tokens.
        </p>
      ) : !validT ? (
        <p className="muted">Set a whole number of tokens per sequence (T ≥ 2) under the method to preview.</p>
      ) : error ? (
        <p className="problem" role="alert" data-testid="preview-error">
          {error.name}: {error.message}
        </p>
      ) : preview ? (
        <PreviewBody preview={preview} T={T} maskPrompt={maskPrompt} />
      ) : (
        <p role="status">Tokenizing…</p>
      )}
    </section>
  );
}

function PreviewBody({ preview, T, maskPrompt }: { preview: DatasetPreview; T: number; maskPrompt: boolean }) {
  const max = T + 1;
  return (
    <>
      <p className="muted">
        The first {preview.rows.length} rows, with the model&apos;s special tokens. <mark className="trained">Highlighted</mark> text is trained on (it gets loss);{' '}
        <span className="masked">grey</span> text is context only.{' '}
        {maskPrompt ? 'Prompts and user turns are masked (the setting above).' : 'Every token after the first is trained on (masking is off above).'} A sequence holds T + 1 = {max} tokens (T is set under Method, step 3).
      </p>
      <ol className="preview-rows" data-testid="preview-rows">
        {preview.rows.map((r, i) => (
          <li key={i} data-testid="preview-row" data-tokens={r.tokens}>
            <pre className="preview-text">
              {r.segments.map((s, j) =>
                s.trained ? (
                  <mark key={j} className="trained" data-trained="true">
                    {s.text}
                  </mark>
                ) : (
                  <span key={j} className="masked" data-trained="false">
                    {s.text}
                  </span>
                ),
              )}
            </pre>
            <span className="muted" data-testid="preview-tokens">
              {r.tokens.toLocaleString('en')} tokens{r.truncated ? `, cut to ${max}: the rest is not trained on` : ''}
            </span>
          </li>
        ))}
      </ol>
      <LengthChart preview={preview} max={max} />
    </>
  );
}

/** Bars of rows per token length, with a line where T + 1 cuts. */
function LengthChart({ preview, max }: { preview: DatasetPreview; max: number }) {
  const h = preview.histogram;
  const W = 320;
  const H = 90;
  const top = Math.max(1, ...h.counts);
  const bw = W / h.counts.length;
  const end = h.lo + h.width * h.counts.length;
  const cutX = ((Math.min(Math.max(max, h.lo), end) - h.lo) / (end - h.lo)) * W;
  const sample = preview.counted < preview.totalRows ? ` of the first ${preview.counted.toLocaleString('en')} rows` : '';
  const summary = `Token lengths${sample}: ${h.min} to ${h.max} tokens. ${preview.truncated.toLocaleString('en')} of ${preview.counted.toLocaleString('en')} rows are longer than ${max} and would be cut.`;
  return (
    <figure className="length-chart">
      <h4 id="length-chart-title">Token lengths (rows per length{sample})</h4>
      <svg viewBox={`0 0 ${W} ${H + 16}`} width={W} height={H + 16} role="img" aria-label={summary} data-testid="length-histogram">
        {h.counts.map((c, k) => {
          const bh = (c / top) * H;
          const lo = h.lo + k * h.width;
          return (
            <rect key={k} data-testid="length-bar" data-count={c} x={k * bw + 1} y={H - bh} width={Math.max(1, bw - 2)} height={bh} className={lo + h.width - 1 > max ? 'bar cut' : 'bar'}>
              <title>{`${c} rows of ${lo}${h.width > 1 ? `–${lo + h.width - 1}` : ''} tokens`}</title>
            </rect>
          );
        })}
        {max <= end && <line x1={cutX} x2={cutX} y1={0} y2={H} className="cut-line" />}
        <text x={0} y={H + 13} className="axis">
          {h.lo}
        </text>
        <text x={W} y={H + 13} textAnchor="end" className="axis">
          {end - 1} tokens
        </text>
      </svg>
      <figcaption className={preview.truncated ? 'problem' : 'muted'} data-testid="preview-truncated">
        {preview.truncated.toLocaleString('en')} of {preview.counted.toLocaleString('en')} rows{sample ? ' counted' : ''} are longer than T + 1 = {max} tokens
        {preview.truncated ? ' and would be cut (raise T, or shorten them)' : ': none is cut'}.
      </figcaption>
    </figure>
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
