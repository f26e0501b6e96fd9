// How to train: a method from the worker's list, its form generated from its schema, the
// trainer's settings (with the method's suggested defaults), B / T / seed, presets, and a
// pre-flight memory bar from estimateRun that turns red, before Start, when the run cannot
// start on this device.

import { useCallback, useEffect, useMemo } from 'react';
import { fmtBytes } from '../engine/gpu/arena.ts';
import { LEDGER_CATEGORIES } from '../engine/gpu/ledger.ts';
import { SchemaForm } from './SchemaForm.tsx';
import { SHAPE_FIELDS, trainerRaw, effective, type Raw } from './store/draft.ts';
import { useStore } from './store/index.ts';
import { useDraft } from './useDraft.ts';
import { formWords } from './run-stats.ts';

/** Trainer fields shown at once; the rest under "More trainer settings". */
const MAIN_TRAINER = ['steps', 'lr', 'schedule', 'warmup', 'optimizer', 'evalEvery'];

export const CATEGORY_COLORS: Record<string, string> = {
  weights: '#6b7a99',
  adapter: '#2b59c3',
  gradients: '#d9822b',
  optimizer: '#a23fbf',
  activations: '#1a9f7a',
  scratch: '#c9b22e',
};

export function MethodPanel() {
  const status = useStore((s) => s.methodsStatus);
  const methodsError = useStore((s) => s.methodsError);
  const loadMethods = useStore((s) => s.loadMethods);
  const methods = useStore((s) => s.methods);
  const method = useStore((s) => s.method);
  const select = useStore((s) => s.selectMethod);
  const trainerSchema = useStore((s) => s.trainerSchema);
  const configEdits = useStore((s) => s.configEdits[method]);
  const trainerShared = useStore((s) => s.trainerShared);
  const trainerOwn = useStore((s) => s.trainerOwn[method]);
  const shape = useStore((s) => s.shape);
  const setConfig = useStore((s) => s.setConfigField);
  const setTrainer = useStore((s) => s.setTrainerField);
  const setShape = useStore((s) => s.setShapeField);
  const applyPreset = useStore((s) => s.applyPreset);
  const presetId = useStore((s) => s.presetId);
  const precision = useStore((s) => s.model?.precision);
  const draft = useDraft();
  const estimate = useStore((s) => s.estimate);
  useEffect(() => {
    void loadMethods();
  }, [loadMethods]);

  const info = methods.find((m) => m.name === method);
  const configValues = useMemo(() => (info ? effective(info.schema, configEdits) : {}), [info, configEdits]);
  const trainerValues = useMemo(
    () => (info && trainerSchema ? trainerRaw({ methodInfo: info, trainerSchema, trainerShared, trainerOwn }) : {}),
    [info, trainerSchema, trainerShared, trainerOwn],
  );
  const tags = useMemo(() => Object.fromEntries(Object.keys(info?.trainerDefaults ?? {}).map((k) => [k, 'per method'])), [info]);
  const onConfig = useCallback((k: string, v: Raw) => setConfig(method, k, v), [setConfig, method]);
  const onShape = useCallback((k: string, v: Raw) => setShape(k === 'B' || k === 'T' || k === 'seed' ? k : 'seed', String(v)), [setShape]);
  const shapeValues = useMemo(() => ({ ...shape }), [shape]);
  const presets = info?.presets ?? [];
  const preset = presets.find((p) => p.id === presetId);

  if (status === 'error') return <section className="panel problem">Could not list the methods: {methodsError?.message}</section>;
  if (!info || !trainerSchema || !draft)
    return (
      <section className="panel" aria-busy="true">
        Loading methods…
      </section>
    );
  const notMain = Object.keys(trainerSchema).filter((k) => !MAIN_TRAINER.includes(k));
  // A reason the run cannot start that names fields (a batch too large for the device, a
  // setting the base cannot run) marks those fields with it, in the form's words.
  const marks =
    estimate && !estimate.ok && estimate.error ? formWords(estimate.error.message, [...Object.keys(info.schema), ...Object.keys(trainerSchema)]) : undefined;
  const marked = (own: Record<string, string>, keys: readonly string[]) => {
    if (!marks?.fields.length) return own;
    const out = { ...own };
    for (const f of marks.fields) if (keys.includes(f) && !out[f]) out[f] = marks.text;
    return out;
  };
  const configErrors = marked(draft.config.errors, Object.keys(info.schema));
  const shapeErrors = marked(draft.shape.errors, Object.keys(SHAPE_FIELDS));
  const trainerErrors = marked(draft.trainer.errors, Object.keys(trainerSchema));

  return (
    <section className="panel wide" aria-labelledby="method-title" data-testid="method-panel">
      <h2 id="method-title" tabIndex={-1}>
        <span className="step-no">3</span> Method
      </h2>
      {presets.length > 0 && (
        <div className="presets" role="group" aria-label={`Presets for ${method}`}>
          <span className="muted">Presets for {method}:</span>
          {presets.map((p) => (
            <button
              key={p.id}
              type="button"
              className={`secondary${p.id === presetId ? ' active' : ''}`}
              aria-pressed={p.id === presetId}
              onClick={() => applyPreset(p.id)}
            >
              {p.title}
            </button>
          ))}
        </div>
      )}
      {preset?.note && (
        <p className={preset.precisions && precision && !preset.precisions.includes(precision) ? 'warn' : 'muted'} data-testid="preset-note">
          {precision && preset.precisions?.includes(precision) ? (
            `The model is loaded as ${precision}: ready for this preset.`
          ) : (
            <>
              {preset.note}
              {precision && preset.precisions && ` The model is loaded as ${precision} now.`}
            </>
          )}
        </p>
      )}
      <div className="method-grid">
        <div>
          <label className="field block">
            Training method
            <select value={method} onChange={(e) => select(e.target.value)} data-testid="method-select">
              {methods.map((m) => (
                <option key={m.name} value={m.name}>
                  {m.name} — {m.family}
                </option>
              ))}
            </select>
          </label>
          <p className="method-title">{info.title}</p>
          <p className="muted">{info.help}</p>
          <h3>{info.name} settings</h3>
          <SchemaForm schema={info.schema} values={configValues} errors={configErrors} onChange={onConfig} idPrefix={`m-${info.name}`} />
        </div>
        <div>
          <h3>Batch and steps</h3>
          <SchemaForm schema={SHAPE_FIELDS} values={shapeValues} errors={shapeErrors} onChange={onShape} idPrefix="shape" />
          <h3>Trainer</h3>
          <SchemaForm schema={trainerSchema} values={trainerValues} errors={trainerErrors} onChange={setTrainer} idPrefix="tr" hide={notMain} tags={tags} />
          <details>
            <summary>More trainer settings</summary>
            <SchemaForm
              schema={trainerSchema}
              values={trainerValues}
              errors={trainerErrors}
              onChange={setTrainer}
              idPrefix="tr"
              hide={MAIN_TRAINER}
              tags={tags}
            />
          </details>
        </div>
      </div>
      <MemoryBar />
    </section>
  );
}

/** The pre-flight estimate of the run the forms describe, asked for 250 ms after the last change. */
export function MemoryBar() {
  const draft = useDraft();
  const runEstimate = useStore((s) => s.runEstimate);
  const estimate = useStore((s) => s.estimate);
  const estimateKey = useStore((s) => s.estimateKey);
  const modelReady = useStore((s) => s.modelStatus === 'ready');
  const modelName = useStore((s) => s.model?.name);
  const req = draft?.request;
  const key = req ? JSON.stringify(req) : undefined;
  useEffect(() => {
    if (!req || !modelReady) return;
    const t = setTimeout(() => void runEstimate(req), 250);
    return () => clearTimeout(t);
    // key stands for req; the model is part of what the worker estimates against
  }, [key, modelReady, modelName, runEstimate]); // eslint-disable-line react-hooks/exhaustive-deps

  const fresh = estimate && estimateKey === key;
  const methods = useStore((s) => s.methods);
  const trainerSchema = useStore((s) => s.trainerSchema);
  const fields = [...Object.keys(methods.find((m) => m.name === req?.method)?.schema ?? {}), ...Object.keys(trainerSchema ?? {})];
  const state = !modelReady ? 'no-model' : draft?.problem ? 'invalid' : !estimate ? 'pending' : estimate.ok ? 'ok' : 'error';
  const total = estimate?.bytes.total ?? 0;
  return (
    <div
      className={`memory-bar mb-${state}`}
      data-testid="memory-bar"
      data-state={state}
      data-total={total}
      data-fresh={fresh ? 'true' : 'false'}
      aria-live="polite"
    >
      <h3>Pre-flight memory estimate</h3>
      {state === 'no-model' && <p className="muted">Load a model (step 1) to see how much GPU memory this run needs.</p>}
      {state === 'invalid' && (
        <p className="problem" role="alert">
          Fix the settings first: {draft?.problem}
        </p>
      )}
      {estimate && state !== 'no-model' && state !== 'invalid' && (
        <>
          <div className="bar" role="img" aria-label={`estimated ${fmtBytes(total)} in total`}>
            {LEDGER_CATEGORIES.filter((c) => estimate.bytes[c] > 0).map((c) => (
              <span key={c} style={{ flexGrow: estimate.bytes[c], background: CATEGORY_COLORS[c] }} title={`${c}: ${fmtBytes(estimate.bytes[c])}`} />
            ))}
          </div>
          <ul className="legend">
            {LEDGER_CATEGORIES.map((c) => (
              <li key={c} data-category={c} data-bytes={estimate.bytes[c]}>
                <span className="swatch" style={{ background: CATEGORY_COLORS[c] }} />
                {c} {fmtBytes(estimate.bytes[c])}
              </li>
            ))}
            <li className="total">
              total <strong data-testid="memory-total">{fmtBytes(total)}</strong>
            </li>
          </ul>
          {!estimate.ok && (
            <p className="problem" role="alert" data-testid="memory-error">
              This run cannot start: {formWords(estimate.error?.message ?? '', fields).text}
            </p>
          )}
        </>
      )}
    </div>
  );
}
