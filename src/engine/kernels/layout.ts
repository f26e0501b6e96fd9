// Where a flat storage index of a linear weight sits, in either layout a weight is kept in:
// 'out-in' (Hugging Face nn.Linear, (out, in) row-major) or 'in-out' (GPT-2's Conv1D).

/** (row, column) in [out, in] space of a flat storage index. */
export function entryOf(at: number, out: number, inp: number, layout: 'out-in' | 'in-out'): [number, number] {
  return layout === 'out-in' ? [Math.floor(at / inp), at % inp] : [at % out, Math.floor(at / out)];
}
