// Limits every reader of user files shares (issue 15: a hostile or careless file costs a
// clear error in bounded time and memory). Each limit is a named constant; an input past one
// is refused with a message that names the file, the limit and how to change the input.
// Host-free: runs in the worker and in Node.

/** Deepest nesting of arrays / objects read from a JSON file (config, tokenizer, dataset, headers). Real files nest fewer than 10 levels. */
export const MAX_JSON_DEPTH = 64;
/** Dimensions of one tensor (safetensors); real checkpoints use at most 5. */
export const MAX_TENSOR_DIMS = 8;
/** A vocabulary larger than this (tokens) is refused; the largest real ones are about 260 K. */
export const MAX_VOCAB = 1 << 22;
/** Characters of one dataset field (a text, prompt, completion or message); training reads only its first T tokens anyway. */
export const MAX_ROW_CHARS = 16 * 1024 * 1024;
/** Extra tokens tokenized past the cut at T so that the first T equal those of the whole row. */
export const TOKENIZE_MARGIN = 16;
/** Interpreter steps the chat template may take for one row, over all its renders (a real template takes about ten per message; @huggingface/jinja runs some 50,000 a second). */
export const MAX_TEMPLATE_STEPS = 200_000;
/** Steps left to the chat template for one row (shared by the renders that mask it). */
export interface TemplateBudget {
  steps: number;
}

export function templateBudget(): TemplateBudget {
  return { steps: MAX_TEMPLATE_STEPS };
}

/** Characters one chat template render may produce beyond its messages' own text. */
export const MAX_TEMPLATE_OUTPUT = 4 * 1024 * 1024;
/** Characters of a chat template. */
export const MAX_TEMPLATE_CHARS = 256 * 1024;
/** How much a tokenizer's normalizer may grow a text (product over its Replace steps). */
export const MAX_NORMALIZER_GROWTH = 16;
/** Values in one Parquet page (pyarrow writes at most 20,000 rows per page). */
export const PARQUET_MAX_PAGE_VALUES = 1 << 20;
/** Bytes of one decompressed Parquet page. */
export const PARQUET_MAX_PAGE_BYTES = 256 * 1024 * 1024;
/** How much Snappy can expand a page (its format's bound is about 21×, plus headroom). */
export const PARQUET_MAX_EXPANSION = 32;
/** Nesting of a Parquet schema (lists of structs of lists ...). */
export const PARQUET_MAX_NESTING = 16;

/** A short description of a JSON value for an error message: never recursive, never long. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length > 60 ? `${JSON.stringify(v.slice(0, 60))}… (${v.length} characters)` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) {
    if (v.length <= 8 && v.every((x) => typeof x === 'number' || typeof x === 'boolean' || x === null)) return `[${v.map(String).join(', ')}]`;
    return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  }
  return typeof v === 'object' ? 'an object' : typeof v;
}

/**
 * The deepest nesting of arrays and objects in JSON text, found by one linear scan that skips
 * strings (so it costs no recursion and no allocation). Returns the depth and the 1-based line
 * where it first goes past `max` (or undefined).
 */
export function jsonNesting(text: string, max = MAX_JSON_DEPTH): { depth: number; line?: number } {
  let depth = 0;
  let deepest = 0;
  let line = 1;
  let at: number | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote (escapes included)
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
        else if (d === 0x0a) line++;
      }
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (depth > max && at === undefined) at = line;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x0a) line++;
  }
  return at === undefined ? { depth: deepest } : { depth: deepest, line: at };
}

/** Throws `make(message)` when JSON text nests deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(text: string, file: string, make: (message: string) => Error = (m) => new Error(m)): void {
  const n = jsonNesting(text);
  if (n.line !== undefined) {
    throw make(`${file}: JSON nested ${n.depth} levels deep (line ${n.line}); webtune reads at most ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH): the file is damaged or is not the file expected here`);
  }
}

/** JSON.parse behind the depth limit, with the parser's complaint in plain words. */
export function parseJsonLimited(text: string, file: string, make: (message: string) => Error = (m) => new Error(m)): unknown {
  checkJsonDepth(text, file, make);
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw make(`${file} is not valid JSON (${jsonErrorText(e)})`);
  }
}

/** A JSON.parse error as a short plain sentence (V8 quotes the whole input in some messages). */
export function jsonErrorText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.length > 160 ? `${m.slice(0, 160)}…` : m;
}

/** Whether an error is JavaScript's own (a bug or an exhausted resource), not a reader's sentence. */
export function isRawJsError(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError) return true;
  return /Maximum call stack|Cannot read properties|is not a function|is not iterable|Invalid (string|array|typed array) length|out of memory|undefined|Array buffer allocation/i.test(e.message);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Why one line of JSON Lines cannot be a record, found without JSON.parse when the line does
 * not even look like an object (a thrown SyntaxError per line made a file of 200,000 broken
 * lines take seconds); undefined when it should be parsed.
 */
export function jsonLineProblem(line: string): string | undefined {
  const first = line[0];
  const last = line[line.length - 1];
  // a JSON value starts with one of these; anything else cannot parse
  if (!'{["-0123456789tfn'.includes(first)) return `not JSON (the line starts with ${JSON.stringify(line.slice(0, 12))}${line.length > 12 ? '…' : ''}; a line holds one object {…})`;
  if ((first === '{' && last !== '}') || (first === '[' && last !== ']')) return `not JSON (the line does not end with "${first === '{' ? '}' : ']'}")`;
  const nest = jsonNesting(line);
  if (nest.line !== undefined) return `JSON nested ${nest.depth} levels deep; webtune reads at most ${MAX_JSON_DEPTH} (MAX_JSON_DEPTH)`;
  return undefined;
}
