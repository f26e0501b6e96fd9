// The run report's pieces: metrics.jsonl parsed by line, CSV cells escaped, the summary.

import { describe, expect, it } from 'vitest';
import { buildReport, metricsCsv, parseMetrics, summarize } from '../../src/engine/export/report.ts';

const STEP = (step: number, loss: number) => ({ type: 'step', step, loss, lr: 1e-3, tokensPerSec: 100 * step, wallMs: 10 * step, memory: { total: 5, peak: 7 + step } }); // wallMs: since the run started

describe('run report', () => {
  it('CSV has one row per step and eval, in METRIC_COLUMNS order; other events are left out', () => {
    const csv = metricsCsv([STEP(1, 2.5), { type: 'paused', step: 1 }, { type: 'eval', step: 1, loss: 2.25, metric: 0.5 }, { type: 'step', step: 2, loss: NaN, lr: 'a,"b"' }]);
    expect(csv.split('\n')).toEqual([
      'type,step,loss,lr,tokensPerSec,wallMs,gradNorm,metric,memoryTotal,memoryPeak',
      'step,1,2.5,0.001,100,10,,,5,8',
      'eval,1,2.25,,,,,0.5,,',
      'step,2,,"a,""b""",,,,,,',
      '',
    ]);
  });

  it('metrics.jsonl: blank lines skipped, a broken line named by number', () => {
    expect(parseMetrics('{"type":"step"}\n\n{"type":"eval"}\n')).toHaveLength(2);
    expect(() => parseMetrics('{"type":"step"}\n{oops\n')).toThrow(/metrics\.jsonl:2: not JSON/);
    expect(() => parseMetrics('[1]\n')).toThrow(/metrics\.jsonl:1: not a JSON object/);
  });

  it('summary and files', () => {
    const ev = [STEP(1, 3), STEP(2, 2), { type: 'eval', step: 2, loss: 2.1, metric: 0.25, wallMs: 27, ms: 7 }];
    // tokens/s: the tokens over the time in steps (100 and 200 tok/s on equal steps: 2 / (1/100 + 1/200));
    // wall time: to the end of the final eval.
    expect(summarize(ev)).toEqual({ steps: 2, firstLoss: 3, finalLoss: 2, evalLoss: 2.1, metric: 0.25, tokensPerSec: 400 / 3, peakBytes: 9, wallMs: 27 });
    expect(summarize([])).toMatchObject({ steps: 0, finalLoss: null, peakBytes: null });
    const files = buildReport({ method: 'lora' }, ev.map((e) => JSON.stringify(e)).join('\n'), { node: 'v0' });
    expect(files.map((f) => f.name)).toEqual(['report.json', 'metrics.json', 'metrics.csv']);
    const report = JSON.parse(new TextDecoder().decode(files[0].bytes)) as Record<string, unknown>;
    expect(report).toMatchObject({ format: 'webtune-run-report', config: { method: 'lora' }, environment: { node: 'v0' }, summary: { steps: 2 } });
  });
});
