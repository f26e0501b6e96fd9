// Choosing the next token from logits: greedy, or temperature with top-k and top-p
// (nucleus) filtering, driven by a uniform number in (0, 1) so runs are reproducible.

export interface SamplingOptions {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep the k most likely tokens (0 = no limit). */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 = no limit). */
  topP: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1 };

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
  return best;
}

/** The tokens sampling may pick and their renormalised probabilities, most likely first. */
export function candidates(logits: ArrayLike<number>, o: SamplingOptions): { ids: number[]; probs: number[] } {
  if (!(o.temperature > 0)) return { ids: [argmax(logits)], probs: [1] };
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  const keep = o.topK > 0 ? order.slice(0, o.topK) : order;
  const m = logits[keep[0]];
  const w = keep.map((i) => Math.exp((logits[i] - m) / o.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  const ids: number[] = [];
  const probs: number[] = [];
  let mass = 0;
  for (let k = 0; k < keep.length; k++) {
    ids.push(keep[k]);
    probs.push(w[k] / total);
    mass += w[k] / total;
    if (mass >= o.topP) break;
  }
  const kept = probs.reduce((a, b) => a + b, 0);
  return { ids, probs: probs.map((p) => p / kept) };
}

/** Pick a token; `u` is uniform in (0, 1). */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, u: number): number {
  const { ids, probs } = candidates(logits, o);
  let acc = 0;
  for (let k = 0; k < ids.length; k++) {
    acc += probs[k];
    if (u < acc) return ids[k];
  }
  return ids[ids.length - 1];
}
