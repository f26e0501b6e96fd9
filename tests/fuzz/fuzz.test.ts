// A short deterministic slice of the fuzzer (scripts/fuzz.ts) per reader: every mutated input
// must be read or refused with a clear error that names the file, within its time bound,
// and never accepted when the target's validity oracle says it is invalid. The full runs
// (10,000 cases per reader, in child processes that observe hangs and aborts) are
// `npm run fuzz`; this slice runs in-process so a regression fails CI.

import { describe, expect, it } from 'vitest';
import { runCase, timeLimitMs, type CaseResult } from '../../scripts/fuzz/lib.ts';
import { TARGETS } from '../../scripts/fuzz/targets.ts';

/** Cases per reader, and the seed (another than the README's run, so the slice adds coverage). */
const CASES = 80;
const SEED = 20261202;
/** The time bound is a second plus a second per MB; test files share the CPU, so the slice allows 10× (npm run fuzz measures time alone). */
const SLACK = 10;

describe('fuzz slice', () => {
  for (const target of TARGETS) {
    it(`${target.name}: ${CASES} mutated inputs are read or clearly refused, in bounded time`, async () => {
      const ctx = await target.setup();
      const seeds = target.seeds(ctx);
      const bad: CaseResult[] = [];
      for (let i = 0; i < CASES; i++) {
        const r = await runCase(target, ctx, seeds, SEED, i);
        // the first cases are the seeds themselves: valid files, read without complaint
        if (i < seeds.length && r.outcome !== 'ok') bad.push(r);
        else if (r.outcome === 'slow' && r.ms <= SLACK * timeLimitMs(r.bytes)) continue;
        else if (r.outcome !== 'ok' && r.outcome !== 'error') bad.push(r);
      }
      expect(bad.map((r) => `case ${r.index}: ${r.outcome}: ${r.message}`)).toEqual([]);
    }, 120_000);
  }
});
