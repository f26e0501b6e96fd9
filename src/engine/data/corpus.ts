// Plain text for evaluation and language-model training: a .txt file is one document; a
// .jsonl file has one JSON object per line with a "text" field. Lines that cannot be read
// are reported with their line numbers and the rest still load.

import { jsonErrorText, jsonLineProblem } from '../io/limits.ts';

export interface RowError {
  line: number;
  message: string;
}

export function readTexts(fileName: string, text: string): { texts: string[]; errors: RowError[] } {
  const content = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a byte-order mark
  if (!fileName.endsWith('.jsonl')) return { texts: content.trim() ? [content] : [], errors: [] };
  const texts: string[] = [];
  const errors: RowError[] = [];
  content.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let row: unknown;
    const problem = jsonLineProblem(line);
    if (problem) {
      errors.push({ line: i + 1, message: problem });
      return;
    }
    try {
      row = JSON.parse(line);
    } catch (e) {
      errors.push({ line: i + 1, message: `not JSON (${jsonErrorText(e)})` });
      return;
    }
    const text = typeof row === 'object' && row !== null ? (row as { text?: unknown }).text : undefined;
    if (typeof text !== 'string') errors.push({ line: i + 1, message: 'no "text" string field' });
    else texts.push(text);
  });
  return { texts, errors };
}

/**
 * Cut documents (already tokenized, each starting with BOS if the tokenizer adds one) into
 * windows of T + 1 tokens joined by `sep` (EOS): inputs are the first T, targets the last T.
 * The last partial window is kept, shorter.
 */
export function windows(docs: readonly number[][], T: number, sep?: number): number[][] {
  const stream: number[] = [];
  docs.forEach((d, i) => {
    for (const t of d) stream.push(t); // not push(...d): a long document would overflow the stack
    if (sep !== undefined && i < docs.length - 1) stream.push(sep);
  });
  const out: number[][] = [];
  for (let s = 0; s + 1 < stream.length; s += T) out.push(stream.slice(s, s + T + 1));
  return out;
}
