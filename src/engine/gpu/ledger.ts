// The memory ledger: live and peak bytes per category for every GPU buffer the arena owns.
// It is what the memory chart plots, what benchmarks report and what a method's
// `estimateMemory` is checked against.

export const LEDGER_CATEGORIES = ['weights', 'adapter', 'gradients', 'optimizer', 'activations', 'scratch'] as const;
export type LedgerCategory = (typeof LEDGER_CATEGORIES)[number];
export type ByCategory = Record<LedgerCategory, number>;

export interface LedgerSnapshot {
  live: ByCategory;
  peak: ByCategory;
  /** Sum of live bytes over all categories. */
  totalLive: number;
  /** Highest total live bytes seen since the last reset (not the sum of per-category peaks). */
  totalPeak: number;
}

export function zeroByCategory(): ByCategory {
  return { weights: 0, adapter: 0, gradients: 0, optimizer: 0, activations: 0, scratch: 0 };
}

export class MemoryLedger {
  private live = zeroByCategory();
  private peak = zeroByCategory();
  private totalLive = 0;
  private totalPeak = 0;
  private listeners = new Set<(s: LedgerSnapshot) => void>();

  add(category: LedgerCategory, bytes: number): void {
    this.live[category] += bytes;
    this.totalLive += bytes;
    if (this.live[category] > this.peak[category]) this.peak[category] = this.live[category];
    if (this.totalLive > this.totalPeak) this.totalPeak = this.totalLive;
    this.emit();
  }

  remove(category: LedgerCategory, bytes: number): void {
    if (bytes > this.live[category]) {
      throw new Error(`memory ledger: releasing ${bytes} B of ${category} but only ${this.live[category]} B are live`);
    }
    this.live[category] -= bytes;
    this.totalLive -= bytes;
    this.emit();
  }

  /** Start a new peak window (for example at the start of a run): peaks restart from what is live now. */
  resetPeak(): void {
    this.peak = { ...this.live };
    this.totalPeak = this.totalLive;
    this.emit();
  }

  snapshot(): LedgerSnapshot {
    return { live: { ...this.live }, peak: { ...this.peak }, totalLive: this.totalLive, totalPeak: this.totalPeak };
  }

  subscribe(fn: (s: LedgerSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    if (this.listeners.size === 0) return;
    const s = this.snapshot();
    for (const fn of this.listeners) fn(s);
  }
}
