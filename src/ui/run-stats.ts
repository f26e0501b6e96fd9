// The studio's numbers about runs, each defined once and used by the runs table, Compare,
// the reports and the charts: wall time, tokens/s, time left; run names that tell runs
// apart; the two runs a config diff starts with; and engine messages put in the page's
// words (form labels instead of CLI flags, with the fields to mark). Pure functions.

import { flagName } from '../engine/config/schema.ts';
import type { RunRequestData } from '../engine/runs.ts';
import { fieldLabel } from './SchemaForm.tsx';
import type { EvalPoint, RunView, StepPoint } from './store/runTypes.ts';

export const WALL_TIME_HELP =
  'Wall time: from the start of the first training step to the end of the last step or eval (the final eval included). Queueing, loading the model, pauses and exports are not counted.';
export const TOKENS_PER_SEC_HELP =
  'Tokens/s: the tokens trained (B × T × accumulation per step) divided by the time spent in training steps. Evals and pauses are not counted.';
export const TIME_LEFT_HELP = 'Time left: the remaining steps at the recent time per step, plus the remaining evals at the measured time per eval.';

type Timed = Pick<RunView, 'steps' | 'evals' | 'summary'>;

/** Wall time in ms (WALL_TIME_HELP): the trainer's summary of a finished run (the wall time
 *  its last step or eval event carried), else the latest step or eval end so far. */
export function wallTime(r: Timed): number | undefined {
  if (r.summary && Number.isFinite(r.summary.wallMs)) return r.summary.wallMs;
  let t = 0;
  for (const p of r.steps) t = Math.max(t, p.wallMs);
  for (const e of r.evals) t = Math.max(t, e.wallMs ?? 0);
  return t > 0 ? t : undefined;
}

/** Tokens/s (TOKENS_PER_SEC_HELP): Σ tokens / Σ step time, from each step's own rate
 *  (a step of n tokens at rate v took n / v seconds; every step trains the same n). */
export function tokensPerSecond(r: Pick<RunView, 'steps'>): number | undefined {
  const rates = r.steps.map((p) => p.tokensPerSec).filter((v) => Number.isFinite(v) && v > 0);
  if (!rates.length) return undefined;
  return rates.length / rates.reduce((a, v) => a + 1 / v, 0);
}

/** Milliseconds per training step over the last few steps, eval time taken out. */
export function stepMs(steps: readonly StepPoint[], evals: readonly EvalPoint[]): number | undefined {
  const n = steps.length;
  if (n === 0) return undefined;
  const k = Math.min(n - 1, 10);
  if (k === 0) {
    const evalBefore = evals.filter((e) => e.step < steps[0].step).reduce((a, e) => a + (e.ms ?? 0), 0);
    return (steps[0].wallMs - evalBefore) / Math.max(1, steps[0].step);
  }
  const a = steps[n - 1 - k];
  const b = steps[n - 1];
  const evalBetween = evals.filter((e) => e.step >= a.step && e.step < b.step).reduce((x, e) => x + (e.ms ?? 0), 0);
  return Math.max(0, b.wallMs - a.wallMs - evalBetween) / Math.max(1, b.step - a.step);
}

/** Evals still to come after `step` of a `total`-step run: one every evalEvery steps, and the last. */
export function evalsLeft(step: number, total: number, evalEvery: number): number {
  if (step >= total) return 0;
  const periodic = evalEvery > 0 ? Math.floor((total - 1) / evalEvery) - Math.floor(step / evalEvery) : 0;
  return Math.max(0, periodic) + 1;
}

/** Time left in ms (TIME_LEFT_HELP), or undefined before the first step. */
export function timeLeft(r: Pick<RunView, 'steps' | 'evals' | 'request'>, hasEval = r.request.data.evalFraction > 0 || r.evals.length > 0): number | undefined {
  const per = stepMs(r.steps, r.evals);
  if (per === undefined) return undefined;
  const total = Number(r.request.trainer.steps);
  const step = r.steps.at(-1)?.step ?? 0;
  const measured = r.evals.map((e) => e.ms).filter((x): x is number => x !== undefined && x > 0);
  // Before the first eval: a forward per held-out batch, about a third of a training step each.
  const evalMs = measured.length ? measured.reduce((a, b) => a + b, 0) / measured.length : (per / 3) * Number(r.request.trainer.evalBatches ?? 4);
  const evals = hasEval ? evalsLeft(step, total, Number(r.request.trainer.evalEvery ?? 0)) : 0;
  return Math.max(0, total - step) * per + evals * evalMs;
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** A request's settings as flat `section.key` → value (the config diff's rows). */
export function flatRequest(q: RunRequestData): Record<string, string> {
  const out: Record<string, string> = { method: q.method, B: String(q.B), T: String(q.T), seed: String(q.seed) };
  for (const [k, v] of Object.entries(q.methodConfig)) out[`method.${k}`] = show(v);
  for (const [k, v] of Object.entries(q.trainer)) out[`trainer.${k}`] = show(v);
  for (const [k, v] of Object.entries(q.data)) out[`data.${k}`] = show(v);
  return out;
}

const short = (v: string) => {
  const n = Number(v);
  if (v.trim() !== '' && Number.isFinite(n) && n !== 0 && Math.abs(n) < 1e-2) return n.toExponential(0);
  return v.length > 24 ? `${v.slice(0, 23)}…` : v;
};

/**
 * A run's name: its base label ("lora r=8 lr=2e-3"), what differs from the latest earlier
 * run with the same base label (up to three settings, "steps=20 B=8"), and its number in
 * the page ("#3"), so no two runs share a name.
 */
export function uniqueLabel(base: string, req: RunRequestData, previous: readonly { label: string; request: RunRequestData; base?: string }[], n: number): string {
  const same = [...previous].reverse().find((p) => (p.base ?? p.label.replace(/ · .*$| #\d+$/g, '')) === base);
  const bits: string[] = [];
  if (same) {
    const a = flatRequest(same.request);
    const b = flatRequest(req);
    for (const k of Object.keys(b)) {
      if (k === 'method' || a[k] === b[k] || base.includes(`${k.split('.').pop()}=`)) continue;
      bits.push(`${k.split('.').pop()}=${short(b[k])}`);
      if (bits.length === 3) break;
    }
  }
  return `${base}${bits.length ? ` · ${bits.join(' ')}` : ''} #${n}`;
}

/** The runs a config diff starts with: the two latest that differ (else the two latest). */
export function defaultDiffPair(runs: readonly { id: string; request: RunRequestData }[]): [string, string] | undefined {
  if (runs.length < 2) return runs.length ? [runs[0].id, runs[0].id] : undefined;
  const b = runs[runs.length - 1];
  const fb = JSON.stringify(flatRequest(b.request));
  const a = [...runs.slice(0, -1)].reverse().find((r) => JSON.stringify(flatRequest(r.request)) !== fb) ?? runs[runs.length - 2];
  return [a.id, b.id];
}

/** CLI flags the engine's messages use for the batch-and-steps form (the rest are the schema's fields). */
const SHAPE_FLAGS: Record<string, string> = { batch: 'B', seq: 'T', seed: 'seed' };

/**
 * An engine message in the page's words: each `--flag` the form has becomes the field's
 * label in quotes, and the fields named are returned so the form can mark them.
 */
export function formWords(message: string, fields: readonly string[]): { text: string; fields: string[] } {
  const byFlag = new Map<string, string>();
  for (const f of fields) byFlag.set(flagName(f), f);
  for (const [flag, f] of Object.entries(SHAPE_FLAGS)) byFlag.set(flag, f);
  const named: string[] = [];
  const text = message.replace(/(?:^|(?<=[\s(]))(\w[\w-]*: )?--([a-z][a-z0-9-]*)/g, (all, _prefix: string | undefined, flag: string) => {
    const f = byFlag.get(flag);
    if (!f) return all;
    if (!named.includes(f)) named.push(f);
    return `“${fieldLabel(f)}”`;
  });
  return { text, fields: named };
}

/** "12 s", "3 min 4 s", "1 h 2 min". */
export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Wall time as every view shows it: seconds with one decimal. */
export const fmtWall = (ms: number | undefined) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`);
/** Tokens/s as every view shows it: one decimal. */
export const fmtTps = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));
