// Chart series from run records: the x axis chosen (step, tokens, wall time), EMA
// smoothing (debiased, as TensorBoard does), and a stride so a long run stays a few hundred
// points per line.

import type { RunView, StepPoint } from '../store/runTypes.ts';

export type XAxisKind = 'step' | 'tokens' | 'wall';

export const X_LABELS: Record<XAxisKind, string> = { step: 'step', tokens: 'tokens', wall: 'wall time (s)' };

export const PALETTE = ['#2b59c3', '#d9480f', '#2f9e44', '#ae3ec9', '#e8590c', '#1098ad', '#f08c00', '#5c7cfa', '#c2255c', '#495057'];

export function xOf(p: Pick<StepPoint, 'step' | 'tokens' | 'wallMs'>, kind: XAxisKind): number {
  return kind === 'step' ? p.step : kind === 'tokens' ? p.tokens : p.wallMs / 1000;
}

export function ema(values: readonly number[], alpha: number): number[] {
  if (alpha <= 0) return [...values];
  let acc = 0;
  let w = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    acc = acc * alpha + (1 - alpha) * v;
    w = w * alpha + (1 - alpha);
    return acc / w;
  });
}

/** Every k-th of n indices (and the last), k chosen so at most `max` remain. */
export function strideIndices(n: number, max = 500): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const k = Math.ceil(n / max);
  const out: number[] = [];
  for (let i = 0; i < n; i += k) out.push(i);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}

export interface XY {
  x: number;
  y: number;
}

/** The train-loss line of a run, smoothed. */
export function lossSeries(r: RunView, kind: XAxisKind, alpha: number): XY[] {
  const ys = ema(r.steps.map((p) => p.loss), alpha);
  return strideIndices(r.steps.length).map((i) => ({ x: xOf(r.steps[i], kind), y: ys[i] }));
}

/** Eval losses, placed at the x of their step. */
export function evalSeries(r: RunView, kind: XAxisKind): XY[] {
  const perStep = r.request.B * r.request.T * Number(r.request.trainer.accum ?? 1);
  return r.evals
    .filter((e) => Number.isFinite(e.loss))
    .map((e) => {
      const at = r.steps.find((p) => p.step === e.step);
      return { x: at ? xOf(at, kind) : kind === 'step' ? e.step : kind === 'tokens' ? e.step * perStep : 0, y: e.loss };
    });
}

export function colorOf(order: readonly string[], id: string): string {
  const i = order.indexOf(id);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
}
