// Exact-match accuracy on prompt/completion rows: greedy-generate from each prompt, decode,
// and compare with the expected completion (whitespace-trimmed; when the expected answer is
// one line, the generation is cut at its first newline).

import type { DatasetRow } from './dataset.ts';
import type { TextTokenizer } from './tokenizer.ts';

/** What the metric needs of a model (DecoderLM has it): continue `prompt` greedily. */
export interface Generator {
  generate(prompt: readonly number[], opts: { maxNewTokens: number; seed: number }): Promise<number[]>;
}

/** The tokenizer calls the metric makes. */
export type MetricTokenizer = Pick<TextTokenizer, 'encode' | 'decode'>;

export interface ExactMatchOptions {
  /** Tokens generated per prompt; default: the expected completion's length + 4. */
  maxNewTokens?: number;
  /** Score only the first `limit` prompt rows. */
  limit?: number;
  seed?: number;
  /** Called after each row. */
  onProgress?: (done: number, total: number) => void;
}

export interface ExactMatchResult {
  accuracy: number;
  correct: number;
  total: number;
  samples: { prompt: string; expected: string; got: string }[];
}

/** The part of a generation that is compared: up to the first newline when `expected` has none, trimmed. */
export function answerOf(expected: string, generated: string): string {
  const oneLine = !expected.trim().includes('\n');
  const cut = oneLine ? generated.replace(/^\s+/, '').split('\n', 1)[0] : generated;
  return cut.trim();
}

/** Whether `generated` answers `expected` exactly (after trimming; see `answerOf`). */
export function completionMatches(expected: string, generated: string): boolean {
  return answerOf(expected, generated) === expected.trim();
}

/** Exact-match accuracy of `model` on the prompt/completion rows (other rows are skipped). */
export async function exactMatch(model: Generator, tok: MetricTokenizer, rows: readonly DatasetRow[], opts: ExactMatchOptions = {}): Promise<ExactMatchResult> {
  const pairs = rows.filter((r): r is Extract<DatasetRow, { kind: 'prompt' }> => r.kind === 'prompt').slice(0, opts.limit ?? Infinity);
  const samples: ExactMatchResult['samples'] = [];
  let correct = 0;
  for (const [i, row] of pairs.entries()) {
    const maxNewTokens = opts.maxNewTokens ?? tok.encode(row.completion, false).length + 4;
    const out = await model.generate(tok.encode(row.prompt, true), { maxNewTokens, seed: opts.seed ?? 0 });
    const got = answerOf(row.completion, tok.decode(out));
    if (got === row.completion.trim()) correct++;
    samples.push({ prompt: row.prompt, expected: row.completion.trim(), got });
    opts.onProgress?.(i + 1, pairs.length);
  }
  return { accuracy: pairs.length ? correct / pairs.length : 0, correct, total: pairs.length, samples };
}
