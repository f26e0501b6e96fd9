// A form generated from a config schema (src/engine/config/schema.ts): a labelled input
// per field with its help text as the description, ranges on the inputs and checked with
// the engine's parser (the message shows under the field), enum selects, list text inputs,
// checkboxes, and a log-scale slider beside fields marked `log` (learning rates, ε).

import { memo } from 'react';
import type { Field, NumberField, Schema } from '../engine/config/schema.ts';
import type { Raw, RawValues } from './store/draft.ts';

const LABELS: Record<string, string> = {
  lr: 'Learning rate',
  eps: 'ε (perturbation)',
  B: 'Batch B',
  T: 'Sequence length T',
  accum: 'Gradient accumulation',
  maxGradNorm: 'Clip grad norm',
  rslora: 'rsLoRA scaling',
  dora: 'DoRA',
  beta1: 'β₁',
  beta2: 'β₂',
};

export function fieldLabel(key: string): string {
  if (LABELS[key]) return LABELS[key];
  const words = key.replace(/([A-Z])/g, ' $1').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

interface Props {
  schema: Schema;
  values: RawValues;
  errors: Record<string, string>;
  onChange(key: string, v: Raw): void;
  /** Prefix of the inputs' ids (unique on the page). */
  idPrefix: string;
  /** Fields to leave out. */
  hide?: readonly string[];
  /** Small tag shown beside some fields' labels (e.g. "per method"). */
  tags?: Record<string, string>;
}

export const SchemaForm = memo(function SchemaForm({ schema, values, errors, onChange, idPrefix, hide, tags }: Props) {
  return (
    <div className="schema-form">
      {Object.entries(schema)
        .filter(([k]) => !hide?.includes(k))
        .map(([k, f]) => (
          <FieldRow key={k} name={k} field={f} value={values[k]} error={errors[k]} onChange={onChange} id={`${idPrefix}-${k}`} tag={tags?.[k]} />
        ))}
    </div>
  );
});

function FieldRow({ name, field, value, error, onChange, id, tag }: { name: string; field: Field; value: Raw | undefined; error?: string; onChange(key: string, v: Raw): void; id: string; tag?: string }) {
  const help = `${id}-help`;
  const err = `${id}-error`;
  const describedBy = error ? `${help} ${err}` : help;
  const label = (
    <label htmlFor={id} className="sf-label">
      {fieldLabel(name)}
      {tag && <span className="tag">{tag}</span>}
    </label>
  );
  let input;
  switch (field.kind) {
    case 'boolean':
      return (
        <div className="sf-row sf-check">
          <input id={id} type="checkbox" checked={value === true} aria-describedby={describedBy} onChange={(e) => onChange(name, e.target.checked)} />
          {label}
          <p id={help} className="sf-help">{field.help}</p>
        </div>
      );
    case 'enum':
      input = (
        <select id={id} value={String(value)} aria-describedby={describedBy} onChange={(e) => onChange(name, e.target.value)}>
          {field.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      );
      break;
    case 'list':
      input = <input id={id} type="text" value={String(value ?? '')} placeholder="(default)" aria-describedby={describedBy} aria-invalid={error ? true : undefined} onChange={(e) => onChange(name, e.target.value)} />;
      break;
    case 'number':
      input = (
        <span className="sf-number">
          <input
            id={id}
            type="text"
            inputMode="decimal"
            value={String(value ?? '')}
            aria-describedby={describedBy}
            aria-invalid={error ? true : undefined}
            onChange={(e) => onChange(name, e.target.value)}
          />
          {field.log && <LogSlider field={field} value={String(value ?? '')} label={fieldLabel(name)} onChange={(v) => onChange(name, v)} />}
        </span>
      );
      break;
  }
  return (
    <div className={`sf-row${error ? ' sf-bad' : ''}`}>
      {label}
      {input}
      <p id={help} className="sf-help">
        {field.help}
        {field.kind === 'number' && rangeText(field)}
      </p>
      {error && (
        <p id={err} className="sf-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function rangeText(f: NumberField): string {
  const parts: string[] = [];
  if (f.min !== undefined) parts.push(`${f.minExclusive ? '>' : '≥'} ${f.min}`);
  if (f.max !== undefined) parts.push(`≤ ${f.max}`);
  if (f.integer) parts.push('whole number');
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** log10 from 1e-6 to 1 in tenths of a decade; typing in the box stays exact. */
function LogSlider({ field, value, label, onChange }: { field: NumberField; value: string; label: string; onChange(v: string): void }) {
  const lo = Math.max(-6, field.min !== undefined && field.min > 0 ? Math.log10(field.min) : -6);
  const hi = field.max !== undefined ? Math.log10(field.max) : 0;
  const n = Number(value);
  const pos = n > 0 && Number.isFinite(n) ? Math.min(hi, Math.max(lo, Math.log10(n))) : lo;
  return (
    <input
      type="range"
      className="sf-slider"
      min={lo}
      max={hi}
      step={0.1}
      value={pos}
      aria-label={`${label} (log scale)`}
      aria-valuetext={value}
      onChange={(e) => onChange(Number((10 ** Number(e.target.value)).toPrecision(2)).toString())}
    />
  );
}
