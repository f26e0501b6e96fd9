// One self-contained HTML report of a run or a comparison: it opens offline (no scripts,
// no links, no fonts from elsewhere) with each run's numbers (by the studio's one
// definition of each, stated beside them), its charts drawn as inline SVG (loss, tokens/s,
// GPU memory against step), its config and the environment it ran in. Pure: a string.

import { niceTicks, tickText } from './charts/ticks.ts';
import { fmtTps, fmtWall, flatRequest, TOKENS_PER_SEC_HELP, tokensPerSecond, WALL_TIME_HELP, wallTime } from './run-stats.ts';
import type { RunView } from './store/runTypes.ts';

const COLORS = ['#2b59c3', '#d9480f', '#1a9f7a', '#a23fbf', '#c9b22e', '#6b7a99'];

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

/** A line chart as SVG: round ticks on both axes, axis titles, a legend under it. */
export function lineChartSvg(o: { title: string; xLabel: string; yLabel: string; series: Series[]; fmtY?: (v: number) => string; width?: number; height?: number }): string {
  const W = o.width ?? 640;
  const H = o.height ?? 300;
  const L = 74, R = 16, T = 30, B = 44;
  const legendH = 18 * Math.ceil(o.series.length / 2);
  const pts = o.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xt = pts.length ? niceTicks(Math.min(...pts.map((p) => p.x)), Math.max(...pts.map((p) => p.x))) : [0, 1];
  const yt = pts.length ? niceTicks(Math.min(...pts.map((p) => p.y)), Math.max(...pts.map((p) => p.y))) : [0, 1];
  const [x0, x1, y0, y1] = [xt[0], xt[xt.length - 1], yt[0], yt[yt.length - 1]];
  const sx = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const fx = tickText(xt);
  const fy = o.fmtY ?? tickText(yt);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + legendH}" viewBox="0 0 ${W} ${H + legendH}" role="img" aria-label="${esc(o.title)}" font-family="system-ui, sans-serif" font-size="11">`);
  out.push(`<title>${esc(o.title)}</title><rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${L}" y="18" font-size="13" font-weight="600" fill="#1d2430">${esc(o.title)}</text>`);
  for (const v of yt) out.push(`<line x1="${L}" x2="${W - R}" y1="${sy(v)}" y2="${sy(v)}" stroke="#edf0f3"/><text x="${L - 6}" y="${sy(v) + 4}" text-anchor="end" fill="#5b6472">${esc(fy(v))}</text>`);
  for (const v of xt) out.push(`<line x1="${sx(v)}" x2="${sx(v)}" y1="${T}" y2="${H - B}" stroke="#edf0f3"/><text x="${sx(v)}" y="${H - B + 16}" text-anchor="middle" fill="#5b6472">${esc(fx(v))}</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle" fill="#1d2430">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" fill="#1d2430">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const p = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
    if (p.length) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${p.map((q) => `${sx(q.x).toFixed(1)},${sy(q.y).toFixed(1)}`).join(' ')}"/>`);
    if (p.length === 1) out.push(`<circle cx="${sx(p[0].x)}" cy="${sy(p[0].y)}" r="3" fill="${c}"/>`);
    const lx = L + (i % 2) * ((W - L) / 2);
    const ly = H + 12 + 18 * Math.floor(i / 2);
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/><text x="${lx + 24}" y="${ly}" fill="#1d2430">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

const kib = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/** The charts of some runs, overlaid: loss (train and eval), tokens/s, peak GPU memory per step. */
export function runChartsSvg(runs: readonly RunView[]): string[] {
  return [
    lineChartSvg({
      title: 'Loss', xLabel: 'Step', yLabel: 'Loss',
      series: runs.flatMap((r) => [
        { name: `${r.label} (train)`, points: r.steps.map((p) => ({ x: p.step, y: p.loss })) },
        ...(r.evals.length ? [{ name: `${r.label} (eval)`, points: r.evals.map((e) => ({ x: e.step, y: e.loss })), dashed: true }] : []),
      ]),
    }),
    lineChartSvg({ title: 'Tokens per second (each step)', xLabel: 'Step', yLabel: 'Tokens/s', series: runs.map((r) => ({ name: r.label, points: r.steps.map((p) => ({ x: p.step, y: p.tokensPerSec })) })) }),
    lineChartSvg({ title: 'GPU memory (peak of each step)', xLabel: 'Step', yLabel: 'GPU memory', fmtY: kib, series: runs.map((r) => ({ name: r.label, points: r.steps.map((p) => ({ x: p.step, y: p.stepPeak?.total ?? p.memory.peak })) })) }),
  ];
}

/** The whole report: numbers, charts, each run's config, the environment. */
export function reportHtml(runs: readonly RunView[], environment: Readonly<Record<string, unknown>>, title = runs.length === 1 ? `webtune run: ${runs[0].label}` : `webtune comparison of ${runs.length} runs`): string {
  const row = (cells: string[], th = false) => `<tr>${cells.map((c, i) => (th || i === 0 ? `<th scope="${th ? 'col' : 'row'}">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`;
  const numbers = [
    row(['Run', 'Method', 'Base', 'Steps', 'Final train loss', 'Eval loss', 'Exact match', `<abbr title="${esc(TOKENS_PER_SEC_HELP)}">Tokens/s</abbr>`, `<abbr title="${esc(WALL_TIME_HELP)}">Wall time</abbr>`, 'Peak GPU memory', 'Trainable'], true),
    ...runs.map((r) => {
      const last = r.steps.at(-1);
      const peak = r.summary?.peakBytes ?? (r.steps.length ? Math.max(...r.steps.map((p) => p.memory.peak)) : undefined);
      const ev = r.summary?.evalLoss ?? r.evals.at(-1)?.loss;
      const metric = r.summary?.metric ?? r.evals.at(-1)?.metric;
      return row([
        esc(r.label), esc(r.request.method), esc(`${r.model.name} (${r.model.precision})`), String(last?.step ?? 0),
        last ? last.loss.toFixed(4) : '–', ev !== undefined && Number.isFinite(ev) ? ev.toFixed(4) : '–', metric !== undefined ? `${(100 * metric).toFixed(1)} %` : '–',
        fmtTps(tokensPerSecond(r)), fmtWall(wallTime(r)), peak !== undefined ? kib(peak) : '–', (r.trainableParams ?? r.summary?.trainableParams)?.toLocaleString('en-US') ?? '–',
      ]);
    }),
  ].join('');
  const configs = runs
    .map((r) => {
      const flat = { model: `${r.model.name} (${r.model.precision})`, dataset: r.datasetName, ...flatRequest(r.request) };
      return `<section><h3>${esc(r.label)}</h3>${r.note ? `<p>${esc(r.note)}</p>` : ''}<table class="kv">${Object.entries(flat).map(([k, v]) => row([`<code>${esc(k)}</code>`, esc(v)])).join('')}</table></section>`;
    })
    .join('');
  const env = Object.entries(environment).map(([k, v]) => row([esc(k), esc(typeof v === 'string' ? v : JSON.stringify(v))])).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;color:#1d2430;max-width:1100px;margin:0 auto;padding:1rem}table{border-collapse:collapse;margin:.5rem 0}th,td{text-align:left;padding:.2rem .5rem;border-bottom:1px solid #e2e6eb;vertical-align:top}td{font-variant-numeric:tabular-nums}.scroll{overflow-x:auto}.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(480px,100%),1fr));gap:1rem}.charts svg{max-width:100%;height:auto}abbr{text-decoration:underline dotted}dl dt{font-weight:600}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>Made by webtune on ${esc(new Date().toISOString())}. Everything is in this file: it needs no network.</p>
<h2>Numbers</h2><div class="scroll"><table id="numbers">${numbers}</table></div>
<dl><dt>Tokens/s</dt><dd>${esc(TOKENS_PER_SEC_HELP)}</dd><dt>Wall time</dt><dd>${esc(WALL_TIME_HELP)}</dd></dl>
<h2>Charts</h2><div class="charts" id="charts">${runChartsSvg(runs).join('\n')}</div>
<h2>Config</h2>${configs}
<h2>Environment</h2><table id="environment">${env}</table>
</body></html>
`;
}
