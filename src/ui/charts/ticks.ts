// Round axis ticks: a step of 1, 2, 2.5 or 5 × 10^k, from a multiple of it at or below the
// smallest value to one at or above the largest (about `count` of them).

export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / Math.max(1, count - 1);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((x) => x * p).find((x) => x >= raw) ?? 10 * p;
  const lo = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = lo; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A tick's text: as few digits as the step needs. */
export function tickText(ticks: readonly number[]): (v: number) => string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6) d++;
  return (v) => (Math.abs(v) >= 1e5 ? v.toExponential(1) : v.toFixed(d));
}
