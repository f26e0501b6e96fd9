// A short measured autotune: run each variant of a kernel a few times on a representative
// shape, keep the fastest, and cache the choice per adapter (in memory, and in a store the
// host provides: a JSON file in Node, nothing persistent in the browser yet).

import type { Gpu } from './gpu.ts';

export interface AutotuneStore {
  load(): Record<string, string>;
  save(choices: Record<string, string>): void;
}

export interface Measurement<V extends string> {
  variant: V;
  /** Median milliseconds per run. */
  ms: number;
}

export interface AutotuneResult<V extends string> {
  chosen: V;
  measurements: Measurement<V>[];
  cached: boolean;
}

export class Autotuner {
  private readonly choices: Record<string, string>;

  constructor(
    private readonly gpu: Gpu,
    private readonly store?: AutotuneStore,
  ) {
    this.choices = store?.load() ?? {};
  }

  key(family: string, shapeKey: string): string {
    return `${this.gpu.adapterKey}|${family}|${shapeKey}`;
  }

  cached<V extends string>(family: string, shapeKey: string, variants: readonly V[]): V | undefined {
    const c = this.choices[this.key(family, shapeKey)];
    return variants.find((v) => v === c);
  }

  /**
   * Pick the fastest of `variants` for `family` at `shapeKey`. `run(v)` records one
   * execution (dispatches only); it is warmed up once (pipeline build) and then timed
   * `reps` times, median taken.
   */
  async pick<V extends string>(
    family: string,
    shapeKey: string,
    variants: readonly V[],
    run: (v: V) => void,
    reps = 3,
  ): Promise<AutotuneResult<V>> {
    const hit = this.cached(family, shapeKey, variants);
    if (hit !== undefined) return { chosen: hit, measurements: [], cached: true };
    const measurements: Measurement<V>[] = [];
    for (const v of variants) {
      run(v);
      await this.gpu.flush();
      const times: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        run(v);
        await this.gpu.flush();
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      measurements.push({ variant: v, ms: times[Math.floor(times.length / 2)] });
    }
    const best = measurements.reduce((a, b) => (b.ms < a.ms ? b : a));
    this.choices[this.key(family, shapeKey)] = best.variant;
    this.store?.save({ ...this.choices });
    return { chosen: best.variant, measurements, cached: false };
  }
}
