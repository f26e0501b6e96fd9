import { useEffect, useRef, useState, type DragEvent } from 'react';
import { fmtBytes } from '../engine/gpu/arena.ts';
import type { BasePrecision } from '../engine/model/decoder.ts';
import { readDrop } from './drop-files.ts';
import { HubForm } from './HubForm.tsx';
import { useStore } from './store/index.ts';

const PRECISIONS: { value: BasePrecision; label: string }[] = [
  { value: 'f32', label: 'f32 (exact)' },
  { value: 'q8', label: 'q8 (8.5 bits per weight)' },
  { value: 'q4', label: 'q4 (4.5 bits per weight)' },
  { value: 'nf4', label: 'nf4 (4.5 bits, QLoRA codebook)' },
];

/** Built-in models served from public/models (each with a CARD.md saying how it was made). */
const BUILTIN = [{ name: 'tiny-kjv', label: 'tiny-kjv: 0.46 M parameters, pretrained here on the King James Bible' }];

/**
 * Load a built-in model, a Hub repo, or a Hugging Face model folder from disk (config.json,
 * model.safetensors, tokenizer.json, …) picked or dropped on the panel.
 */
export function ModelPanel() {
  const status = useStore((s) => s.modelStatus);
  const model = useStore((s) => s.model);
  const progress = useStore((s) => s.loadProgress);
  const error = useStore((s) => s.modelError);
  const load = useStore((s) => s.loadModel);
  const loadBuiltin = useStore((s) => s.loadBuiltin);
  const precision = useStore((s) => s.basePrecision);
  const setPrecision = useStore((s) => s.setBasePrecision);
  const folder = useRef<HTMLInputElement>(null);
  useEffect(() => folder.current?.setAttribute('webkitdirectory', ''), []);
  const pick = (list: FileList | null) => {
    if (list && list.length) void load([...list], precision);
  };
  const [dragging, setDragging] = useState(false);
  const [dropError, setDropError] = useState<string>();
  const hasFiles = (e: DragEvent) => e.dataTransfer.types.includes('Files');
  const onDragOver = (e: DragEvent) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = status === 'loading' ? 'none' : 'copy';
    setDragging(true);
  };
  const onDragLeave = (e: DragEvent) => {
    if (!(e.relatedTarget instanceof Node && e.currentTarget.contains(e.relatedTarget))) setDragging(false);
  };
  const onDrop = (e: DragEvent) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    setDragging(false);
    if (status === 'loading') return;
    setDropError(undefined);
    readDrop(e.dataTransfer).then(
      ({ files, name }) => {
        if (files.length) void load(files, precision, name);
        else setDropError('The drop held no files.');
      },
      (err: unknown) => setDropError(`Could not read the dropped folder: ${err instanceof Error ? err.message : String(err)}`),
    );
  };
  return (
    <section
      className="panel"
      aria-labelledby="model-title"
      data-testid="model-panel"
      onDragEnter={onDragOver}
      onDragOver={onDragOver}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
      style={dragging ? { outline: '3px dashed #2b59c3', outlineOffset: '-6px' } : undefined}
    >
      <h2 id="model-title">Model</h2>
      <p className="muted">
        The built-in model, a Hugging Face Hub repo, or a model folder in Hugging Face layout from your disk (Llama,
        SmolLM, Qwen2, Mistral, GPT-2): config.json, model.safetensors and tokenizer.json. Choose the folder or drop it
        on this panel; files are read here, never uploaded.
      </p>
      <label className="field">
        Base precision{' '}
        <select value={precision} onChange={(e) => setPrecision(PRECISIONS.find((p) => p.value === e.target.value)?.value ?? 'f32')}>
          {PRECISIONS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      <div className="row-buttons">
        {BUILTIN.map((b) => (
          <button key={b.name} type="button" disabled={status === 'loading'} onClick={() => void loadBuiltin(b.name, precision)} title={b.label}>
            Load built-in {b.name}
          </button>
        ))}
        <label className="button">
          Choose folder…
          <input ref={folder} type="file" className="visually-hidden" onChange={(e) => pick(e.target.files)} />
        </label>
        <label className="button">
          Choose files…
          <input type="file" multiple className="visually-hidden" data-testid="model-files" onChange={(e) => pick(e.target.files)} />
        </label>
      </div>
      {dropError && <p className="problem" role="alert">{dropError}</p>}
      <HubForm precision={precision} />
      {status === 'loading' && (
        <p role="status">
          Loading… <progress value={progress} max={1} aria-label="loading progress" /> {Math.round(progress * 100)} %
        </p>
      )}
      {status === 'ready' && model && (
        <dl className="facts" data-testid="model-summary">
          <dt>Source</dt>
          <dd>{model.name}</dd>
          <dt>Architecture</dt>
          <dd data-testid="model-arch">{model.architecture}</dd>
          <dt>Parameters</dt>
          <dd>{model.parameters.toLocaleString('en')}</dd>
          <dt>Layers / width / vocabulary</dt>
          <dd>
            {model.layers} / {model.hidden} / {model.vocab}
          </dd>
          <dt>At each precision</dt>
          <dd data-testid="bytes-by-precision">
            {(['f32', 'q8', 'q4', 'nf4'] as const).map((p) => `${p} ${fmtBytes(model.bytesByPrecision[p])}`).join(' · ')}
          </dd>
          <dt>Weights on the GPU</dt>
          <dd>
            {fmtBytes(model.weightBytes)} ({model.precision})
          </dd>
        </dl>
      )}
      {error && <p className="problem" role="alert">{`${error.name}: ${error.message}`}</p>}
    </section>
  );
}
