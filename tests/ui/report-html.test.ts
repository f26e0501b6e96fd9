// The HTML report of a run or a comparison: self-contained (nothing fetched: no scripts,
// links, images or fonts from elsewhere), with each run's numbers by the studio's
// definitions, three inline SVG charts, each config and the environment.
import { describe, expect, it } from 'vitest';
import { reportHtml } from '../../src/ui/report-html.ts';
import { fmtTps, fmtWall, tokensPerSecond, wallTime } from '../../src/ui/run-stats.ts';
import type { RunView } from '../../src/ui/store/runTypes.ts';

const mem = { weights: 0, adapter: 0, gradients: 0, optimizer: 0, activations: 0, scratch: 0, total: 1000, peak: 2048 };
const run = (id: string, label: string, tps: number[]): RunView => ({
  id, label, phase: 'done', createdAt: 0, datasetName: 'kjv-verse-ref.jsonl',
  request: { datasetId: 'data-1', method: 'lora', methodConfig: { rank: 8 }, trainer: { steps: tps.length, lr: 2e-3 }, B: 2, T: 16, seed: 0, data: { evalFraction: 0.1, maskPrompt: true, pack: false, metricRows: 0 } },
  model: { name: 'builtin:tiny-kjv', precision: 'nf4', parameters: 455520 },
  steps: tps.map((v, i) => ({ step: i + 1, loss: 3 - i / 10, lr: 2e-3, tokensPerSec: v, wallMs: 100 * (i + 1), tokens: 32 * (i + 1), memory: mem })),
  evals: [{ step: tps.length, loss: 2.9, wallMs: 100 * tps.length + 40, ms: 40 }],
  note: 'ZO-LoRA <test>',
});

describe('reportHtml', () => {
  it('is one self-contained page with the numbers, charts, configs and environment', () => {
    const runs = [run('run-1', 'lora r=8 #1', [100, 200, 300]), run('run-2', 'mezo & co #2', [50, 50])];
    const html = reportHtml(runs, { host: 'browser', adapter: { vendor: 'google' } });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(|src=/i);
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html.match(/<polyline /g)?.length).toBeGreaterThanOrEqual(6);
    for (const r of runs) {
      expect(html).toContain(`<td>${fmtWall(wallTime(r))}</td>`);
      expect(html).toContain(`<td>${fmtTps(tokensPerSecond(r))}</td>`);
    }
    expect(html).toContain('mezo &amp; co #2');
    expect(html).toContain('ZO-LoRA &lt;test&gt;');
    expect(html).toContain('builtin:tiny-kjv (nf4)');
    expect(html).toContain('<code>method.rank</code>');
    expect(html).toContain('google');
  });
});
