// The run report: what a run was (its run.json: model, data, method and trainer config, the
// memory estimate), where it ran (the host gives the environment: WebGPU adapter, runtime
// version), and what it measured (metrics.jsonl, the trainer's events, as JSON and as CSV).
// Host-agnostic: the caller reads the files and writes what this returns.

import { ConfigError } from '../config/schema.ts';
import type { ExportFile } from '../methods/types.ts';

/** Columns of metrics.csv: one row per step or eval event. */
export const METRIC_COLUMNS = ['type', 'step', 'loss', 'lr', 'tokensPerSec', 'wallMs', 'gradNorm', 'metric', 'memoryTotal', 'memoryPeak'] as const;

type Row = Record<string, unknown>;

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Parse metrics.jsonl; a line that is not a JSON object is an error naming its number. */
export function parseMetrics(jsonl: string, file = 'metrics.jsonl'): Row[] {
  const out: Row[] = [];
  jsonl.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new ConfigError(`${file}:${i + 1}: not JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${file}:${i + 1}: not a JSON object`);
    out.push(v as Row);
  });
  return out;
}

export function metricsCsv(events: readonly Row[]): string {
  const lines = [METRIC_COLUMNS.join(',')];
  for (const e of events) {
    if (e.type !== 'step' && e.type !== 'eval') continue;
    const mem = typeof e.memory === 'object' && e.memory !== null ? (e.memory as Row) : {};
    const row: Row = { ...e, memoryTotal: mem.total, memoryPeak: mem.peak };
    lines.push(METRIC_COLUMNS.map((c) => csvCell(row[c])).join(','));
  }
  return lines.join('\n') + '\n';
}

/** What the events say in a few numbers. */
export function summarize(events: readonly Row[]) {
  const steps = events.filter((e) => e.type === 'step');
  const evals = events.filter((e) => e.type === 'eval');
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const last = steps.at(-1);
  const tps = steps.map((e) => num(e.tokensPerSec)).filter((x): x is number => x !== undefined && x > 0);
  const peaks = steps.map((e) => num((e.memory as Row | undefined)?.peak)).filter((x): x is number => x !== undefined);
  return {
    steps: steps.length ? num(last?.step) ?? steps.length : 0,
    firstLoss: num(steps[0]?.loss) ?? null,
    finalLoss: num(last?.loss) ?? null,
    evalLoss: num(evals.at(-1)?.loss) ?? null,
    metric: num(evals.at(-1)?.metric) ?? null,
    // Tokens trained over the time spent in training steps (evals and pauses not counted):
    // every step trains the same tokens, so this is the harmonic mean of the steps' rates.
    tokensPerSec: tps.length ? tps.length / tps.reduce((a, b) => a + 1 / b, 0) : null,
    peakBytes: peaks.length ? Math.max(...peaks) : null,
    // From the first step to the end of the last step or eval (events carry the time since
    // the run started, pauses not counted).
    wallMs: [...steps, ...evals].reduce((a, e) => Math.max(a, num(e.wallMs) ?? 0), 0),
  };
}

/** report.json (config, environment, summary), metrics.json and metrics.csv. */
export function buildReport(run: Readonly<Row>, metricsJsonl: string, environment: Readonly<Row>): ExportFile[] {
  const events = parseMetrics(metricsJsonl);
  const enc = (s: string) => new TextEncoder().encode(s);
  const report = { format: 'webtune-run-report', version: 1, config: run, environment, summary: summarize(events) };
  return [
    { name: 'report.json', bytes: enc(JSON.stringify(report, null, 2) + '\n') },
    { name: 'metrics.json', bytes: enc(JSON.stringify(events, null, 1) + '\n') },
    { name: 'metrics.csv', bytes: enc(metricsCsv(events)) },
  ];
}
