import { describe, expect, it } from 'vitest';
import { argmax, candidates, sampleToken } from '../../src/engine/model/sampling.ts';

describe('sampling', () => {
  // softmax([1, 3, 2, 0, 2.5]) = [0.0627, 0.4631, 0.1704, 0.0231, 0.2809]
  const logits = [1, 3, 2, 0, 2.5];
  it('greedy is argmax', () => {
    expect(argmax(logits)).toBe(1);
    expect(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, 0.99)).toBe(1);
  });

  it('top-k and top-p keep the most likely tokens, renormalised', () => {
    expect(candidates(logits, { temperature: 1, topK: 2, topP: 1 }).ids).toEqual([1, 4]);
    expect(candidates(logits, { temperature: 1, topK: 0, topP: 0.4 }).ids).toEqual([1]);
    const c = candidates(logits, { temperature: 1, topK: 0, topP: 0.5 });
    expect(c.ids).toEqual([1, 4]);
    expect(c.probs[0]).toBeCloseTo(0.4631 / (0.4631 + 0.2809), 3);
    expect(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.5 }, 0.5)).toBe(1);
    expect(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.5 }, 0.7)).toBe(4);
  });

  it('temperature sharpens and flattens', () => {
    const cold = candidates(logits, { temperature: 0.1, topK: 0, topP: 1 });
    const hot = candidates(logits, { temperature: 10, topK: 0, topP: 1 });
    expect(cold.probs[0]).toBeGreaterThan(0.99);
    expect(hot.probs[0]).toBeLessThan(0.3);
  });
});
