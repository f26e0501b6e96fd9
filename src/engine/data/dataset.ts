// Fine-tuning datasets: parse a file (JSONL, JSON, CSV, TXT) into typed rows, tokenize them
// with loss masks (prompt tokens and non-assistant turns masked out), cut them into (B, T)
// batches (packed or one example per row), split train / eval deterministically.
//
// Framework-free and host-free: runs in the trainer worker and in Node. Rows that cannot be
// read are reported with their line numbers and the rest still load; only a file that is
// unreadable as a whole (JSON that does not parse, a CSV without a header) throws.

import { uniform } from '../rng/philox.ts';
import { formatBytes, jsonErrorText, jsonLineProblem, jsonNesting, MAX_JSON_DEPTH, MAX_ROW_CHARS, templateBudget } from '../io/limits.ts';
import type { RowError } from './corpus.ts';
import type { ChatMessage, TextTokenizer } from './tokenizer.ts';

export type { RowError } from './corpus.ts';

export type DatasetRow =
  | { kind: 'text'; text: string }
  | { kind: 'prompt'; prompt: string; completion: string }
  | { kind: 'chat'; messages: ChatMessage[] };

export type DatasetFormat = 'jsonl' | 'json' | 'csv' | 'txt' | 'parquet';

/**
 * Which field of a record holds what. With `messages` the rows are chat; with `prompt` or
 * `completion` they are prompt/completion (the other defaults to "prompt" / "completion");
 * with `text` they are plain text. Without a mapping each record is auto-detected.
 */
export interface FieldMapping {
  text?: string;
  prompt?: string;
  completion?: string;
  messages?: string;
}

export interface ParsedDataset {
  rows: DatasetRow[];
  /** By line (text formats) or 1-based row number (Parquet). */
  errors: RowError[];
  format: DatasetFormat;
  /** Set when the source has more records than were read: the row cap, and the source's record count when known. */
  capped?: { at: number; total?: number };
}

/** One tokenized example: loss[i] = 1 when token i is a training target (predicted from i − 1). */
export interface Example {
  tokens: number[];
  loss: number[];
}

export interface EncodeOptions {
  /** Longer examples are cut to this many tokens (and counted in `truncated`). */
  maxTokens: number;
  /** Train only on completions / assistant turns. */
  maskPrompt: boolean;
  /** Render chat rows with the tokenizer's chat template when it has one. */
  useChatTemplate: boolean;
}

/** One (B, T) batch, row-major: targets[i] = the token after ids[i]; mask[i] = 1 where it is trained on. */
export interface Batch {
  ids: Int32Array; // (B, T)
  targets: Int32Array; // (B, T)
  mask: Float32Array; // (B, T)
  /** Number of targets with mask 1. */
  tokens: number;
}

/** Pairs of field names read as prompt / completion when no mapping is given, in this order. */
export const PROMPT_PAIRS: readonly (readonly [string, string])[] = [
  ['prompt', 'completion'],
  ['input', 'output'],
  ['question', 'answer'],
  ['instruction', 'response'],
];

type Rec = Record<string, unknown>;

/** Why one record cannot be a row; thrown and caught inside this module only (not an Error: a
 *  stack trace per bad row made a file of 100,000 bad rows take seconds). */
class RowProblem {
  constructor(readonly message: string) {}
}

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

function describeFields(r: Rec): string {
  const keys = Object.keys(r);
  return keys.length ? `fields here: ${keys.map((k) => JSON.stringify(k)).join(', ')}` : 'the record is empty';
}

function stringField(r: Rec, field: string, allowEmpty: boolean): string {
  if (!(field in r)) throw new RowProblem(`no "${field}" field (expected a string; ${describeFields(r)})`);
  const v = r[field];
  if (typeof v !== 'string') throw new RowProblem(`"${field}" must be a string (got ${typeName(v)})`);
  if (v.length > MAX_ROW_CHARS) throw new RowProblem(tooLong(field, v.length));
  if (!allowEmpty && v.trim() === '') throw new RowProblem(`"${field}" is empty`);
  return v;
}

function tooLong(field: string, n: number): string {
  return `"${field}" holds ${formatBytes(n)} of text; webtune reads at most ${formatBytes(MAX_ROW_CHARS)} per field (MAX_ROW_CHARS) and trains on its first T tokens only: split the text into several rows`;
}

function messagesField(r: Rec, field: string): ChatMessage[] {
  if (!(field in r)) throw new RowProblem(`no "${field}" field (expected an array of {role, content}; ${describeFields(r)})`);
  let v = r[field];
  if (typeof v === 'string') {
    // CSV cells (and some exports) hold the conversation as a JSON string
    if (v.length > MAX_ROW_CHARS) throw new RowProblem(tooLong(field, v.length));
    if (jsonNesting(v).line !== undefined) throw new RowProblem(`"${field}" nests deeper than ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH); a conversation is an array of {role, content}`);
    if (!/^\s*\[/.test(v)) throw new RowProblem(`"${field}" must be an array of {role, content} (got a string that is not a JSON array)`);
    try {
      v = JSON.parse(v);
    } catch {
      throw new RowProblem(`"${field}" must be an array of {role, content} (got a string that is not JSON)`);
    }
  }
  if (!Array.isArray(v)) throw new RowProblem(`"${field}" must be an array of {role, content} (got ${typeName(v)})`);
  if (v.length === 0) throw new RowProblem(`"${field}" is an empty array`);
  let chars = 0;
  return v.map((m, i) => {
    if (isRecord(m) && typeof m.content === 'string' && (chars += m.content.length) > MAX_ROW_CHARS) throw new RowProblem(tooLong(field, chars));
    if (!isRecord(m)) throw new RowProblem(`"${field}"[${i}] must be an object {role, content} (got ${typeName(m)})`);
    if (typeof m.role !== 'string' || m.role === '') throw new RowProblem(`"${field}"[${i}].role must be a non-empty string (got ${typeName(m.role)})`);
    if (typeof m.content !== 'string') throw new RowProblem(`"${field}"[${i}].content must be a string (got ${typeName(m.content)})`);
    return { role: m.role, content: m.content };
  });
}

/** A record as a row, by the mapping or by auto-detection; throws RowProblem. */
function toRow(r: Rec, mapping?: FieldMapping): DatasetRow {
  if (mapping && (mapping.messages || mapping.prompt || mapping.completion || mapping.text)) {
    if (mapping.messages) return { kind: 'chat', messages: messagesField(r, mapping.messages) };
    if (mapping.prompt || mapping.completion) {
      return { kind: 'prompt', prompt: stringField(r, mapping.prompt ?? 'prompt', true), completion: stringField(r, mapping.completion ?? 'completion', false) };
    }
    return { kind: 'text', text: stringField(r, mapping.text ?? 'text', false) };
  }
  if ('messages' in r) return { kind: 'chat', messages: messagesField(r, 'messages') };
  for (const [p, c] of PROMPT_PAIRS) {
    if (p in r || c in r) return { kind: 'prompt', prompt: stringField(r, p, true), completion: stringField(r, c, false) };
  }
  if ('text' in r) return { kind: 'text', text: stringField(r, 'text', false) };
  const pairs = PROMPT_PAIRS.map(([p, c]) => `"${p}"/"${c}"`).join(', ');
  throw new RowProblem(`no known fields: expected "messages" (chat), ${pairs} (prompt/completion) or "text" (${describeFields(r)}); name the fields with a mapping`);
}

function extensionFormat(fileName: string, content: string): DatasetFormat {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.txt') || lower.endsWith('.text') || lower.endsWith('.md')) return 'txt';
  // an unknown extension: sniff
  const head = content.trimStart();
  if (head.startsWith('[')) return 'json';
  if (head.startsWith('{')) {
    const first = head.split('\n', 1)[0];
    try {
      JSON.parse(first);
      return 'jsonl';
    } catch {
      return 'json';
    }
  }
  return 'txt';
}


/**
 * Classify records (JSON values, CSV rows or Parquet rows as objects) into typed rows by the
 * mapping or by auto-detection: each readable one is appended to `out.rows`, each other one
 * to `out.errors` with its `line` (a line or row number) and why. Every parser shares this.
 */
export function readRecords(records: readonly { line: number; value: unknown }[], mapping: FieldMapping | undefined, out: Pick<ParsedDataset, 'rows' | 'errors'>): void {
  for (const { line, value } of records) {
    if (!isRecord(value)) {
      out.errors.push({ line, message: `expected a JSON object (got ${typeName(value)})` });
      continue;
    }
    try {
      out.rows.push(toRow(value, mapping));
    } catch (e) {
      if (!(e instanceof RowProblem)) throw e;
      out.errors.push({ line, message: e.message });
    }
  }
}

function parseJson(fileName: string, content: string, mapping: FieldMapping | undefined, out: ParsedDataset): void {
  let v: unknown;
  const nest = jsonNesting(content);
  if (nest.line !== undefined) {
    throw new Error(`${fileName}: line ${nest.line}: JSON nested ${nest.depth} levels deep; webtune reads at most ${MAX_JSON_DEPTH} (MAX_JSON_DEPTH), and a dataset's records need 3 or 4: the file is damaged or is not a dataset`);
  }
  try {
    v = JSON.parse(content);
  } catch (e) {
    throw new Error(`${fileName} is not valid JSON (${jsonErrorText(e)}); a dataset file is a JSON array of objects, JSON Lines (.jsonl), CSV or plain text`);
  }
  let items: unknown[];
  if (Array.isArray(v)) items = v;
  else if (isRecord(v) && Array.isArray(v.data)) items = v.data;
  else if (isRecord(v) && Array.isArray(v.rows)) items = v.rows;
  else throw new Error(`${fileName}: expected a JSON array of records, or an object with a "data" or "rows" array (got ${typeName(v)})`);
  readRecords(items.map((value, i) => ({ line: i + 1, value })), mapping, out);
}

function parseJsonl(fileName: string, content: string, mapping: FieldMapping | undefined, out: ParsedDataset): void {
  if (content.trimStart().startsWith('[')) {
    // a JSON array saved as .jsonl (pretty-printed, one element per line or not)
    let whole: unknown;
    try {
      whole = jsonNesting(content).line === undefined ? JSON.parse(content) : undefined;
    } catch {
      whole = undefined;
    }
    if (Array.isArray(whole)) {
      parseJson(fileName, content, mapping, out);
      return;
    }
  }
  const records: { line: number; value: unknown }[] = [];
  const bad: RowError[] = [];
  content.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const problem = jsonLineProblem(line);
    if (problem) {
      bad.push({ line: i + 1, message: problem });
      return;
    }
    try {
      records.push({ line: i + 1, value: JSON.parse(line) });
    } catch (e) {
      bad.push({ line: i + 1, message: `not JSON (${jsonErrorText(e)})` });
    }
  });
  if (records.length === 0 && bad.length > 0) {
    throw new Error(`${fileName}: no line is JSON (line ${bad[0].line}: ${bad[0].message}); JSON Lines has one object per line`);
  }
  for (const e of bad) out.errors.push(e); // not push(...bad): a million bad lines would overflow the stack
  readRecords(records, mapping, out);
  out.errors.sort((a, b) => a.line - b.line);
}

/**
 * RFC 4180 CSV: fields separated by commas, records by CRLF or LF; a field in double quotes
 * may hold commas, newlines and doubled double quotes (""). Returns each record with the
 * 1-based line on which it starts, and the problems found (a stray quote, an unterminated one).
 */
export function parseCsvRecords(content: string): { records: { line: number; fields: string[] }[]; problems: RowError[] } {
  const records: { line: number; fields: string[] }[] = [];
  const problems: RowError[] = [];
  let i = content.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  let line = 1;
  const n = content.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let problem: string | undefined;
    for (;;) {
      let field: string;
      if (content[i] === '"') {
        i++;
        let closed = false;
        const parts: string[] = [];
        for (;;) {
          const q = content.indexOf('"', i);
          const end = q < 0 ? n : q;
          for (let k = i; k < end; k++) if (content.charCodeAt(k) === 10) line++;
          parts.push(content.slice(i, end));
          if (q < 0) {
            i = n;
            break;
          }
          if (content[q + 1] === '"') {
            parts.push('"');
            i = q + 2;
            continue;
          }
          i = q + 1;
          closed = true;
          break;
        }
        field = parts.join('');
        if (!closed) problem ??= 'a quoted field is not closed before the end of the file';
        // text after the closing quote, up to the separator, is not RFC 4180
        let stray = false;
        while (i < n && content[i] !== ',' && content[i] !== '\n' && !(content[i] === '\r' && content[i + 1] === '\n')) {
          if (content[i].trim() !== '') stray = true;
          i++;
        }
        if (stray) problem ??= `unexpected text after a closing quote in field ${fields.length + 1}`;
      } else {
        const from = i;
        while (i < n && content[i] !== ',' && content[i] !== '\n' && !(content[i] === '\r' && content[i + 1] === '\n')) {
          if (content[i] === '"') problem ??= `a double quote inside unquoted field ${fields.length + 1} (quote the field and double the quote)`;
          i++;
        }
        field = content.slice(from, i);
      }
      fields.push(field);
      if (i < n && content[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (content[i] === '\r') i++;
    if (content[i] === '\n') {
      i++;
      line++;
    }
    const blank = fields.length === 1 && fields[0].trim() === '';
    if (problem) problems.push({ line: start, message: problem });
    else if (!blank) records.push({ line: start, fields });
  }
  return { records, problems };
}

function parseCsv(fileName: string, content: string, mapping: FieldMapping | undefined, out: ParsedDataset): void {
  const { records, problems } = parseCsvRecords(content);
  if (records.length === 0 || (problems.length > 0 && problems[0].line <= records[0].line)) {
    const why = problems.length ? `line ${problems[0].line}: ${problems[0].message}` : 'it has no header row';
    throw new Error(`${fileName}: cannot read the CSV header (${why}); the first row must name the columns`);
  }
  const [header, ...body] = records;
  const names = header.fields.map((f) => f.trim());
  for (const p of problems) out.errors.push(p);
  for (const { line, fields } of body) {
    if (fields.length !== names.length) {
      out.errors.push({ line, message: `${fields.length} fields where the header has ${names.length} (${names.map((x) => JSON.stringify(x)).join(', ')})` });
      continue;
    }
    const rec: Rec = {};
    names.forEach((name, j) => (rec[name] = fields[j]));
    readRecords([{ line, value: rec }], mapping, out);
  }
  out.errors.sort((a, b) => a.line - b.line);
}

/**
 * Parse a dataset file. The format comes from the extension (.jsonl / .ndjson, .json, .csv,
 * .txt / .text / .md; anything else is sniffed). JSONL: one object per line. JSON: an array
 * of objects or an object with a "data" or "rows" array (error lines are element index + 1).
 * CSV: RFC 4180 with a header row (error lines are where the record starts). TXT: the whole
 * file is one text row.
 */
export function parseDataset(fileName: string, text: string, mapping?: FieldMapping): ParsedDataset {
  // a byte-order mark: the page's File.text() drops it, Node's readFileSync keeps it
  const content = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const format = extensionFormat(fileName, content);
  const out: ParsedDataset = { rows: [], errors: [], format };
  if (content.trim() === '') {
    out.errors.push({ line: 1, message: 'the file is empty' });
    return out;
  }
  if (format === 'txt') {
    if (content.length > MAX_ROW_CHARS) out.errors.push({ line: 1, message: `${fileName} is one text of ${formatBytes(content.length)}; webtune reads at most ${formatBytes(MAX_ROW_CHARS)} per row (MAX_ROW_CHARS): split it into several files or a JSONL file of rows` });
    else out.rows.push({ kind: 'text', text: content });
  }
  else if (format === 'json') parseJson(fileName, content, mapping, out);
  else if (format === 'jsonl') parseJsonl(fileName, content, mapping, out);
  else parseCsv(fileName, content, mapping, out);
  return out;
}

// ---------------------------------------------------------------------------------------
// Tokenization and loss masks

/** Length of the common prefix of two token sequences. */
function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The plain chat format used when the tokenizer has no chat template (or useChatTemplate
 * is off): one line per message, `<role>: <content>\n`, e.g. "user: Hi\nassistant: Hello\n";
 * tokenized with the tokenizer's specials (BOS) and followed by EOS. A generation prompt is
 * the conversation so far followed by "assistant: ".
 */
export function renderPlainChat(messages: readonly ChatMessage[], addGenerationPrompt = false): string {
  return messages.map((m) => `${m.role}: ${m.content}\n`).join('') + (addGenerationPrompt ? 'assistant: ' : '');
}

function encodeChat(messages: readonly ChatMessage[], tok: TextTokenizer, opts: EncodeOptions): Example {
  const templated = opts.useChatTemplate && tok.chatTemplate !== undefined;
  const eos = tok.eosIds[0];
  const max = opts.maxTokens;
  // A templated conversation carries its own specials (BOS, end-of-turn) in the text; the
  // plain one gets BOS from the tokenizer and EOS after the last message.
  const budget = templateBudget(); // one step budget for every render of this row
  const render = (msgs: readonly ChatMessage[], genPrompt: boolean): string => (templated ? tok.applyChatTemplate(msgs, genPrompt, budget) : renderPlainChat(msgs, genPrompt));
  // Only the first maxTokens tokens are kept, so only they are tokenized (plus a margin).
  const encode = (text: string) => tok.encodePrefix(text, !templated, max);
  const whole = render(messages, false);
  const full = encode(whole);
  const tokens = full.ids;
  if (full.complete && !templated && eos !== undefined) tokens.push(eos);
  const loss = tokens.map((_, i) => (i === 0 ? 0 : 1));
  if (opts.maskPrompt) {
    loss.fill(0);
    // assistant spans: from the end of "conversation so far + assistant header" to the end of
    // "conversation through this message" (its end-of-turn text included; the final EOS too).
    // Turns are visited in order and the walk stops at the first one that starts past the
    // tokens kept: the work is bounded by the kept tokens, not by the conversation.
    const plainStarts: number[] = [];
    if (!templated) {
      let at = 0;
      for (const m of messages) {
        plainStarts.push(at);
        at += m.role.length + 2 + m.content.length + 1;
      }
      plainStarts.push(at);
    }
    const prefixOf = (i: number, genPrompt: boolean): string =>
      templated ? render(messages.slice(0, i), genPrompt) : whole.slice(0, plainStarts[i]) + (genPrompt ? 'assistant: ' : '');
    for (let i = 0; i < messages.length; i++) {
      if (messages[i].role !== 'assistant') continue;
      const before = encode(prefixOf(i, true));
      const start = Math.max(1, commonPrefix(tokens, before.ids));
      if (start >= tokens.length) break;
      const end = i === messages.length - 1 ? tokens.length : commonPrefix(tokens, encode(prefixOf(i + 1, false)).ids);
      for (let j = start; j < end; j++) loss[j] = 1;
      if (!before.complete) break;
    }
  }
  return { tokens, loss };
}

function encodeRow(row: DatasetRow, tok: TextTokenizer, opts: EncodeOptions): Example {
  const eos = tok.eosIds[0];
  const max = opts.maxTokens;
  const withEos = (r: { ids: number[]; complete: boolean }) => (eos === undefined || !r.complete ? r.ids : [...r.ids, eos]);
  if (row.kind === 'chat') return encodeChat(row.messages, tok, opts);
  if (row.kind === 'text') {
    const tokens = withEos(tok.encodePrefix(row.text, true, max));
    return { tokens, loss: tokens.map((_, i) => (i === 0 ? 0 : 1)) };
  }
  // prompt + completion as one text (so BPE sees the join as it will at generation time);
  // the prompt part is the common prefix with the prompt's own encoding
  const tokens = withEos(tok.encodePrefix(row.prompt + row.completion, true, max));
  const p = opts.maskPrompt ? Math.max(1, commonPrefix(tokens, tok.encodePrefix(row.prompt, true, max).ids)) : 1;
  return { tokens, loss: tokens.map((_, i) => (i >= p ? 1 : 0)) };
}

/**
 * Tokenize rows into examples with loss masks (loss[0] is always 0: nothing predicts the
 * first token). Text: BOS (when the tokenizer adds one) + text + EOS, all trained on.
 * Prompt: prompt + completion + EOS (the completion is appended as is, so it usually starts
 * with a space); with maskPrompt only completion + EOS are targets. Chat: the tokenizer's
 * chat template when it has one and useChatTemplate, else `renderPlainChat`; with maskPrompt
 * only the assistant messages (and what ends their turn) are targets. Examples longer than
 * maxTokens are cut and counted; only their first maxTokens (+ TOKENIZE_MARGIN) tokens are
 * tokenized, so a row costs time and memory in proportion to maxTokens, not to its length.
 */
export function encodeRows(rows: readonly DatasetRow[], tok: TextTokenizer, opts: EncodeOptions): { examples: Example[]; truncated: number } {
  if (!(opts.maxTokens >= 2)) throw new RangeError(`encodeRows: maxTokens must be at least 2 (got ${opts.maxTokens})`);
  let truncated = 0;
  const examples = rows.map((row) => {
    const ex = encodeRow(row, tok, opts);
    if (ex.tokens.length <= opts.maxTokens) return ex;
    truncated++;
    return { tokens: ex.tokens.slice(0, opts.maxTokens), loss: ex.loss.slice(0, opts.maxTokens) };
  });
  return { examples, truncated };
}

// ---------------------------------------------------------------------------------------
// Batches

/**
 * (B, T) batches in order (deterministic; shuffle the examples first if wanted). Without
 * pack, each example fills one row (cut to T + 1 tokens), the rest of the row is padId with
 * mask 0. With pack, the examples are joined into one stream (each keeps its own BOS / EOS
 * and mask; loss[0] = 0 keeps the first token of an example from being predicted from the
 * one before) and cut into windows of T + 1 tokens overlapping by one, so every token is a
 * target exactly once. The last batch is completed with fully masked rows.
 */
export function batches(examples: readonly Example[], B: number, T: number, opts: { pack: boolean; padId: number }): Batch[] {
  if (!(Number.isInteger(B) && B >= 1 && Number.isInteger(T) && T >= 1)) throw new RangeError(`batches: B and T must be positive integers (got B=${B}, T=${T})`);
  const rows: { tokens: readonly number[]; loss: readonly number[] }[] = [];
  if (opts.pack) {
    const tokens = examples.flatMap((e) => e.tokens);
    const loss = examples.flatMap((e) => e.loss);
    for (let s = 0; s + 1 < tokens.length; s += T) rows.push({ tokens: tokens.slice(s, s + T + 1), loss: loss.slice(s, s + T + 1) });
  } else {
    for (const e of examples) if (e.tokens.length >= 2) rows.push({ tokens: e.tokens.slice(0, T + 1), loss: e.loss.slice(0, T + 1) });
  }
  const out: Batch[] = [];
  for (let b0 = 0; b0 < rows.length; b0 += B) {
    const ids = new Int32Array(B * T).fill(opts.padId);
    const targets = new Int32Array(B * T).fill(opts.padId);
    const mask = new Float32Array(B * T);
    let count = 0;
    for (let r = 0; r < B && b0 + r < rows.length; r++) {
      const { tokens, loss } = rows[b0 + r];
      for (let t = 0; t + 1 < tokens.length; t++) {
        ids[r * T + t] = tokens[t];
        targets[r * T + t] = tokens[t + 1];
        mask[r * T + t] = loss[t + 1];
        count += loss[t + 1];
      }
    }
    out.push({ ids, targets, mask, tokens: count });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Split and statistics

/**
 * A deterministic shuffle (Fisher–Yates on the Philox stream uniform(seed, i)) cut into eval
 * (the first round(n · evalFraction)) and train. When evalFraction > 0 and there are at least
 * two rows, eval has at least one row and train keeps at least one.
 */
export function splitDataset<R>(rows: readonly R[], evalFraction: number, seed: number): { train: R[]; eval: R[] } {
  if (!(evalFraction >= 0 && evalFraction < 1)) throw new RangeError(`splitDataset: evalFraction must be in [0, 1) (got ${evalFraction})`);
  const order = rows.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(uniform(seed >>> 0, order.length - 1 - i) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const n = rows.length;
  const nEval = evalFraction > 0 && n >= 2 ? Math.min(n - 1, Math.max(1, Math.round(n * evalFraction))) : 0;
  return { eval: order.slice(0, nEval).map((i) => rows[i]), train: order.slice(nEval).map((i) => rows[i]) };
}

export interface LengthHistogram {
  min: number;
  max: number;
  /** Bin k counts lengths in [lo + k·width, lo + (k + 1)·width). */
  lo: number;
  width: number;
  counts: number[];
}

/** Token lengths of the examples in `bins` equal integer-width bins from min to max. */
export function tokenLengthHistogram(examples: readonly Example[], bins: number): LengthHistogram {
  if (!(Number.isInteger(bins) && bins >= 1)) throw new RangeError(`tokenLengthHistogram: bins must be a positive integer (got ${bins})`);
  const counts = new Array<number>(bins).fill(0);
  if (examples.length === 0) return { min: 0, max: 0, lo: 0, width: 1, counts };
  const lens = examples.map((e) => e.tokens.length);
  const min = lens.reduce((a, b) => Math.min(a, b));
  const max = lens.reduce((a, b) => Math.max(a, b));
  const width = Math.max(1, Math.ceil((max - min + 1) / bins));
  for (const n of lens) counts[Math.min(bins - 1, Math.floor((n - min) / width))]++;
  return { min, max, lo: min, width, counts };
}
