// Chart axis ticks: round steps (1, 2, 2.5, 5 × 10^k) spanning the data, evenly spaced, and
// their labels with as many digits as the step needs (never 1, 3, 5, 6).
import { describe, expect, it } from 'vitest';
import { niceTicks, tickText } from '../../src/ui/charts/ticks.ts';

describe('niceTicks', () => {
  it('covers the data with evenly spaced round steps', () => {
    expect(niceTicks(1.2, 5.8)).toEqual([0, 2, 4, 6]);
    expect(niceTicks(2.31, 2.47)).toEqual([2.3, 2.35, 2.4, 2.45, 2.5]);
    expect(niceTicks(0, 950)).toEqual([0, 250, 500, 750, 1000]);
    for (const [lo, hi] of [[0.013, 0.9], [3.2, 3.2], [120, 263], [-1, 1]]) {
      const t = niceTicks(lo, hi);
      expect(t[0]).toBeLessThanOrEqual(lo);
      expect(t.at(-1)).toBeGreaterThanOrEqual(hi);
      const steps = t.slice(1).map((v, i) => v - t[i]);
      for (const s of steps) expect(s).toBeCloseTo(steps[0], 9);
      expect(t.length).toBeLessThanOrEqual(8);
    }
  });

  it('labels with the digits the step needs', () => {
    const t = niceTicks(2.31, 2.47);
    expect(t.map(tickText(t))).toEqual(['2.30', '2.35', '2.40', '2.45', '2.50']);
    const z = niceTicks(0, 950);
    expect(z.map(tickText(z))).toEqual(['0', '250', '500', '750', '1000']);
    const u = niceTicks(120, 263);
    expect(u.map(tickText(u))).toEqual(['100', '150', '200', '250', '300']);
  });
});
