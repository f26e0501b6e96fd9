// The studio's numbers about runs, defined once (src/ui/run-stats.ts): wall time, tokens/s
// and time left (evals counted); names that tell runs apart; the diff's default pair; engine
// messages in the form's words.
import { describe, expect, it } from 'vitest';
import type { RunRequestData } from '../../src/engine/runs.ts';
import { defaultDiffPair, evalsLeft, formWords, timeLeft, tokensPerSecond, uniqueLabel, wallTime } from '../../src/ui/run-stats.ts';
import type { RunView } from '../../src/ui/store/runTypes.ts';

const req = (over: Partial<RunRequestData> = {}, trainer: Record<string, unknown> = {}): RunRequestData => ({
  datasetId: 'data-1', method: 'lora', methodConfig: { rank: 8, alpha: 16 }, trainer: { steps: 10, lr: 2e-3, evalEvery: 0, evalBatches: 4, ...trainer },
  B: 4, T: 24, seed: 0, data: { evalFraction: 0.1, maskPrompt: true, pack: false, metricRows: 0 }, ...over,
});
const mem = { weights: 0, adapter: 0, gradients: 0, optimizer: 0, activations: 0, scratch: 0, total: 0, peak: 0 };
const step = (n: number, wallMs: number, tokensPerSec = 100) => ({ step: n, loss: 1, lr: 1e-3, tokensPerSec, wallMs, tokens: n * 96, memory: mem });

describe('run names', () => {
  it('a number always, and what differs from the latest run with the same base name', () => {
    const a = req();
    const l1 = uniqueLabel('lora r=8 lr=2e-3', a, [], 1);
    expect(l1).toBe('lora r=8 lr=2e-3 #1');
    const b = req({ B: 8 }, { steps: 20 });
    const l2 = uniqueLabel('lora r=8 lr=2e-3', b, [{ label: l1, request: a }], 2);
    expect(l2).toBe('lora r=8 lr=2e-3 · B=8 steps=20 #2');
    // the same settings again: told apart by the number
    const l3 = uniqueLabel('lora r=8 lr=2e-3', b, [{ label: l1, request: a }, { label: l2, request: b }], 3);
    expect(l3).toBe('lora r=8 lr=2e-3 #3');
    expect(new Set([l1, l2, l3]).size).toBe(3);
    // a different method is not compared with
    expect(uniqueLabel('mezo ε=1e-3 lr=1e-4', req({ method: 'mezo' }), [{ label: l1, request: a }], 4)).toBe('mezo ε=1e-3 lr=1e-4 #4');
  });

  it('the config diff starts with two different runs', () => {
    const runs = [{ id: 'run-1', request: req() }, { id: 'run-2', request: req({ B: 8 }) }, { id: 'run-3', request: req({ B: 8 }) }];
    expect(defaultDiffPair(runs)).toEqual(['run-1', 'run-3']);
    expect(defaultDiffPair(runs.slice(0, 2))).toEqual(['run-1', 'run-2']);
    expect(defaultDiffPair(runs.slice(1))).toEqual(['run-2', 'run-3']); // identical settings: still two runs
  });
});

describe('one definition of each number', () => {
  const view = (over: Partial<RunView>): Pick<RunView, 'steps' | 'evals' | 'summary' | 'request'> => ({ steps: [], evals: [], request: req(), ...over });

  it('wall time: the summary of a finished run, else the latest step or eval end', () => {
    expect(wallTime(view({ steps: [step(1, 100), step(2, 200)], evals: [{ step: 2, loss: 1, wallMs: 260, ms: 60 }] }))).toBe(260);
    expect(wallTime(view({ steps: [step(1, 100)], summary: { steps: 1, finalLoss: 1, peakBytes: 0, trainableParams: 1, wallMs: 150, stopped: false } }))).toBe(150);
    expect(wallTime(view({}))).toBeUndefined();
  });

  it('tokens/s: tokens over the time in steps (equal steps at 100 and 300 tok/s: 150)', () => {
    expect(tokensPerSecond({ steps: [step(1, 1, 100), step(2, 2, 300)] })).toBeCloseTo(150, 9);
    expect(tokensPerSecond({ steps: [] })).toBeUndefined();
  });

  it('time left counts the evals still to come at their measured time', () => {
    expect(evalsLeft(4, 10, 0)).toBe(1); // only the last
    expect(evalsLeft(4, 10, 2)).toBe(3); // at 6 and 8, and the last (10)
    expect(evalsLeft(10, 10, 2)).toBe(0);
    // steps of 100 ms with a 500 ms eval at step 2: 8 steps and 4 evals (4, 6, 8, last) to go
    const r = view({ request: req({}, { evalEvery: 2 }), steps: [step(1, 100), step(2, 200), step(3, 800)], evals: [{ step: 2, loss: 1, wallMs: 700, ms: 500 }] });
    expect(timeLeft(r)).toBeCloseTo(7 * 100 + 4 * 500, 6);
  });
});

describe('messages in the form\'s words', () => {
  it('names the form\'s labels instead of CLI flags and says which fields to mark', () => {
    const m = formWords('--batch 4096 × --seq 256 needs a 900 MiB buffer: lower --batch or --seq', ['rank', 'maxGradNorm']);
    expect(m.text).toBe('“Batch B” 4096 × “Sequence length T” 256 needs a 900 MiB buffer: lower “Batch B” or “Sequence length T”');
    expect(m.fields).toEqual(['B', 'T']);
    const z = formWords('mezo --trainable all perturbs f32 weights (use --trainable lora); --max-grad-norm too', ['trainable', 'maxGradNorm']);
    expect(z.text).not.toMatch(/--/);
    expect(z.text).toContain('“Trainable” all');
    expect(z.text).toContain('“Clip grad norm”');
    expect(z.fields).toEqual(['trainable', 'maxGradNorm']);
    expect(formWords('--unknown stays', []).text).toBe('--unknown stays');
  });
});
