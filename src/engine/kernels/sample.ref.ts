// Plain-loop reference of shaders/sample.wgsl: sort by logit (descending, ties by index),
// keep the top k, weights exp((l − max)/T), keep the shortest prefix reaching top-p of the
// kept weight, and walk it with u·Σ. Also reports how close u·Σ (and the top-p cut) came to a
// boundary, so a test can tell f32-rounding ties from real disagreements.

import type { SamplingOptions } from '../model/sampling.ts';

export interface SampleRef {
  id: number;
  /** Smallest relative distance of a cut (top-p or the pick) to a candidate boundary. */
  margin: number;
}

export function sampleRef(logits: ArrayLike<number>, o: SamplingOptions, u: number): SampleRef {
  const V = logits.length;
  let best = 0;
  for (let j = 1; j < V; j++) if (logits[j] > logits[best]) best = j;
  if (!(o.temperature > 0) || o.topK === 1) return { id: best, margin: Infinity };
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const keep = o.topK > 0 ? order.slice(0, o.topK) : order;
  const m = logits[best];
  const w = keep.map((i) => Math.exp((logits[i] - m) / o.temperature));
  let total = 0;
  for (const x of w) total += x;
  let margin = Infinity;
  let n = keep.length;
  if (o.topP < 1) {
    const target = o.topP * total;
    let acc = 0;
    for (let k = 0; k < keep.length; k++) {
      margin = Math.min(margin, Math.abs(acc - target) / total);
      acc += w[k];
      margin = Math.min(margin, Math.abs(acc - target) / total);
      if (acc >= target) {
        n = k + 1;
        break;
      }
    }
  }
  let zb = 0;
  for (let k = 0; k < n; k++) zb += w[k];
  const target = u * zb;
  let acc = 0;
  for (let k = 0; k < n; k++) {
    acc += w[k];
    margin = Math.min(margin, Math.abs(acc - target) / zb);
    if (target < acc) return { id: keep[k], margin };
  }
  return { id: keep[n - 1], margin };
}
