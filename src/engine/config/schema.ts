// Config schemas: plain typed data that says, per field, its kind, default, range and help
// text. The studio renders a method's form from its schema and the CLI derives its flags
// from it (camelCase field → --kebab-case flag), so neither repeats a method's options.

export interface NumberField {
  kind: 'number';
  default: number;
  help: string;
  min?: number;
  max?: number;
  /** min is excluded: the value must be > min. */
  minExclusive?: boolean;
  integer?: boolean;
  /** Shown on a log scale in forms (learning rates, ε). */
  log?: boolean;
}
export interface BooleanField {
  kind: 'boolean';
  default: boolean;
  help: string;
}
export interface EnumField<O extends string = string> {
  kind: 'enum';
  default: O;
  options: readonly O[];
  help: string;
}
export interface ListField {
  kind: 'list';
  default: readonly string[];
  help: string;
}
export type Field = NumberField | BooleanField | EnumField | ListField;
export type Schema = Readonly<Record<string, Field>>;

/** The value a field holds (distributes over a union of fields). */
export type ValueOf<F extends Field> = F extends NumberField ? number : F extends BooleanField ? boolean : F extends EnumField<infer O> ? O : F extends ListField ? string[] : never;

/** The typed config a schema describes. */
export type ConfigOf<S extends Schema> = { -readonly [K in keyof S]: ValueOf<S[K]> };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function flagName(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function defaults<S extends Schema>(schema: S): ConfigOf<S> {
  return parseConfig(schema, {}, '');
}

function describeRange(f: NumberField): string {
  const lo = f.min === undefined ? '' : `${f.minExclusive ? '>' : '≥'} ${f.min}`;
  const hi = f.max === undefined ? '' : `≤ ${f.max}`;
  return [f.integer ? 'an integer' : 'a number', lo, hi].filter(Boolean).join(' ');
}

/** One field's value from user input (a string from a flag or a form, or a JSON value). */
function parseField(name: string, f: Field, raw: unknown, where: string): number | boolean | string | string[] {
  const bad = (what: string) => new ConfigError(`${where}${flagName(name)} should be ${what}, got ${JSON.stringify(raw)}`);
  switch (f.kind) {
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      const ok =
        Number.isFinite(n) &&
        (!f.integer || Number.isInteger(n)) &&
        (f.min === undefined || (f.minExclusive ? n > f.min : n >= f.min)) &&
        (f.max === undefined || n <= f.max);
      if (!ok) throw bad(describeRange(f));
      return n;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === '') return true;
      if (raw === 'false' || raw === '0') return false;
      throw bad('true or false');
    case 'enum':
      if (typeof raw === 'string' && f.options.includes(raw)) return raw;
      throw bad(`one of ${f.options.join(', ')}`);
    case 'list': {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
      if (!items || !items.every((s) => typeof s === 'string')) throw bad('a comma-separated list');
      return items.map((s: string) => s.trim()).filter(Boolean);
    }
  }
}

/**
 * A typed config from user input: missing fields take their defaults, unknown fields and
 * out-of-range values are errors naming the flag (`where` prefixes them, e.g. "lora: --").
 */
export function parseConfig<S extends Schema>(schema: S, input: Readonly<Record<string, unknown>>, where = '--'): ConfigOf<S> {
  const out: Record<string, number | boolean | string | string[]> = {};
  for (const key of Object.keys(input)) {
    if (!(key in schema)) throw new ConfigError(`${where}${flagName(key)} is not an option (options: ${Object.keys(schema).map(flagName).join(', ')})`);
  }
  for (const [name, f] of Object.entries(schema)) {
    out[name] = name in input && input[name] !== undefined ? parseField(name, f, input[name], where) : f.kind === 'list' ? [...f.default] : f.default;
  }
  return out as ConfigOf<S>; // every key of S was filled above with its field's kind
}
