// The run the forms describe, as the user typed it: raw field values (numbers and lists as
// the text in their inputs, so a half-typed "1e-" is kept), checked field by field against
// the schema with the engine's own parser, and turned into a RunRequestData.

import { parseConfig, type Field, type Schema } from '../../engine/config/schema.ts';
import { short } from '../../engine/methods/label-format.ts';
import { methodLabel } from '../../engine/methods/labels.ts';
import type { DataSettings, MethodInfo, RunRequestData } from '../../engine/runs.ts';

export type Raw = string | boolean;
export type RawValues = Record<string, Raw>;

/** A field's default as its input shows it. */
export function rawDefault(f: Field): Raw {
  if (f.kind === 'boolean') return f.default;
  if (f.kind === 'list') return f.default.join(', ');
  return String(f.default);
}

/** Any value (a default, a preset's number or list) as an input shows it. */
export function toRaw(v: unknown): Raw {
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

/** The values a form shows: defaults, then each layer of edits over them. */
export function effective(schema: Schema, ...layers: (Readonly<Record<string, unknown>> | undefined)[]): RawValues {
  const out: RawValues = {};
  for (const [k, f] of Object.entries(schema)) out[k] = rawDefault(f);
  for (const l of layers) for (const [k, v] of Object.entries(l ?? {})) if (k in schema && v !== undefined) out[k] = toRaw(v);
  return out;
}

export interface Checked {
  value: Record<string, unknown>;
  /** Field → message, for the fields that do not parse or are out of range. */
  errors: Record<string, string>;
}

/** Each field through the engine's parser on its own, so every bad field gets its message. */
export function check(schema: Schema, raw: RawValues): Checked {
  const value: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const [k, f] of Object.entries(schema)) {
    try {
      value[k] = parseConfig({ [k]: f }, { [k]: raw[k] }, '')[k];
    } catch (e) {
      errors[k] = e instanceof Error ? e.message : String(e);
    }
  }
  return { value, errors };
}

export interface Shape {
  B: string;
  T: string;
  seed: string;
}

export const SHAPE_FIELDS = {
  B: { kind: 'number', default: 4, min: 1, integer: true, help: 'Sequences per micro-batch (B).' },
  T: { kind: 'number', default: 64, min: 2, integer: true, help: 'Tokens per sequence (T); longer examples are cut.' },
  seed: { kind: 'number', default: 0, min: 0, integer: true, help: 'Seed of the data split, the initialisation and the noise.' },
} as const satisfies Schema;

/** What the draft holds for one method: its config edits and its own trainer edits. */
export interface DraftParts {
  methodInfo: MethodInfo;
  trainerSchema: Schema;
  config?: RawValues;
  /** Trainer edits every method shares (steps, schedule, …). */
  trainerShared: RawValues;
  /** Trainer edits of this method (for the fields its trainerDefaults set: lr, optimizer, …). */
  trainerOwn?: RawValues;
  shape: Shape;
}

/** The trainer values a method runs with: defaults, shared edits, the method's defaults, its edits. */
export function trainerRaw(p: Pick<DraftParts, 'methodInfo' | 'trainerSchema' | 'trainerShared' | 'trainerOwn'>): RawValues {
  const own = p.methodInfo.trainerDefaults;
  const shared = Object.fromEntries(Object.entries(p.trainerShared).filter(([k]) => !(k in own)));
  return effective(p.trainerSchema, shared, own, p.trainerOwn);
}

export interface Built {
  request?: RunRequestData;
  config: Checked;
  trainer: Checked;
  shape: Checked;
  /** One line naming the first bad field, when there is one. */
  problem?: string;
}

export function buildRequest(p: DraftParts, datasetId: string, data: DataSettings, label?: string): Built {
  const config = check(p.methodInfo.schema, effective(p.methodInfo.schema, p.config));
  const trainer = check(p.trainerSchema, trainerRaw(p));
  const shape = check(SHAPE_FIELDS, { ...p.shape });
  const bad = [...Object.values(config.errors), ...Object.values(trainer.errors), ...Object.values(shape.errors)];
  if (bad.length) return { config, trainer, shape, problem: bad[0] };
  const request: RunRequestData = {
    datasetId,
    method: p.methodInfo.name,
    methodConfig: config.value,
    trainer: trainer.value,
    B: Number(shape.value.B),
    T: Number(shape.value.T),
    seed: Number(shape.value.seed),
    data,
    label: label ?? autoLabel(p.methodInfo.name, config.value, trainer.value),
  };
  return { request, config, trainer, shape };
}

/** "lora r=8 lr=2e-3" and the like: what tells runs apart in a list. */
export function autoLabel(method: string, config: Record<string, unknown>, trainer: Record<string, unknown>): string {
  return `${methodLabel(method, config)} lr=${short(trainer.lr)}`; // the method's own label (methods/<m>/label.ts)
}
