// The buffer arena: the only place in the engine that calls `device.createBuffer`.
// Every buffer carries a ledger category; scratch buffers are pooled by size class and
// reused across steps; disposing an arena destroys everything it made, so a run that is
// disposed leaves the ledger where it found it.

import { GpuOutOfMemoryError, GpuValidationError } from './errors.ts';
import type { LedgerCategory, MemoryLedger } from './ledger.ts';
import { BufferUsage } from './usage.ts';

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const READBACK_USAGE = BufferUsage.MAP_READ | BufferUsage.COPY_DST;

/** A GPU buffer owned by an arena. `size` is the byte size asked for, rounded up to 4. */
export interface GpuBuf {
  readonly buffer: GPUBuffer;
  readonly size: number;
  readonly category: LedgerCategory;
  readonly label: string;
  /** Destroy the buffer (or return it to its pool) and take it off the ledger. Idempotent. */
  release(): void;
}

interface Owned {
  buffer: GPUBuffer;
  bytes: number;
  category: LedgerCategory;
  usage: number;
}

/** Pool size classes: powers of two from 256 B, so a pooled buffer wastes at most half. */
export function sizeClass(bytes: number): number {
  let c = 256;
  while (c < bytes) c *= 2;
  return c;
}

/**
 * Memory planned once per shape, as llm.c plans its activations: a pass (a training step's
 * forward + backward, an eval's forward, a generated token) allocates from `begin()`'s arena
 * as usual, and `end()` takes every buffer back into the plan, where the next pass finds it
 * by (category, usage, bytes) without a createBuffer or an error scope. Buffers a pass did
 * not use stay for `keepPasses` more passes (so eval passes between training steps, or a
 * prompt before its tokens, do not throw the other shape's buffers away), then are freed.
 * A pass that begins while another is open (re-entry) gets a plain child arena.
 */
export class MemoryPlan {
  private readonly arena: Arena;
  private open = false;
  private pass = 0;

  constructor(parent: Arena, private readonly keepPasses = 4) {
    this.arena = parent.child();
    this.arena.planned = { free: new Map(), used: [], lastUse: new Map(), released: new Set() };
  }

  /** The arena of one pass; give it back with `end(arena)`. */
  begin(): Arena {
    if (this.open) return this.arena.child();
    this.open = true;
    this.pass++;
    return this.arena;
  }

  end(a: Arena): void {
    if (a !== this.arena) return a.dispose();
    this.open = false;
    const p = this.arena.planned;
    if (!p) return;
    for (const o of p.released) p.lastUse.set(o, this.pass);
    p.released.clear();
    for (const o of p.used.splice(0)) {
      p.lastUse.set(o, this.pass);
      const key = planKey(o);
      let list = p.free.get(key);
      if (!list) p.free.set(key, (list = []));
      list.push(o);
    }
    for (const [key, list] of p.free) {
      const keep = list.filter((o) => (p.lastUse.get(o) ?? 0) > this.pass - this.keepPasses);
      for (const o of list) if (!keep.includes(o)) (p.lastUse.delete(o), this.arena.destroyOwned(o));
      if (keep.length) p.free.set(key, keep);
      else p.free.delete(key);
    }
    for (const c of [...this.arena.children]) c.dispose();
  }

  /** Bytes the plan holds (live on the ledger between passes). */
  get bytes(): number {
    return this.arena.ownedBytes;
  }

  /** Free everything the plan holds (the next pass plans again). */
  release(): void {
    if (this.open) return;
    const p = this.arena.planned;
    if (!p) return;
    for (const list of p.free.values()) for (const o of list) this.arena.destroyOwned(o);
    p.free.clear();
    p.lastUse.clear();
  }

  dispose(): void {
    this.arena.dispose();
  }
}

function planKey(o: Owned): string {
  return `${o.category}:${o.usage}:${o.bytes}`;
}

export class Arena {
  /** Set on a MemoryPlan's arena: allocations come from, and go back to, the plan. */
  planned: { free: Map<string, Owned[]>; used: Owned[]; lastUse: Map<Owned, number>; released: Set<Owned> } | undefined;
  private readonly owned = new Set<Owned>();
  /** Free pooled buffers by `${usage}:${sizeClass}`. Pooled buffers stay on the ledger. */
  private readonly pool = new Map<string, Owned[]>();
  private disposed = false;
  readonly children = new Set<Arena>();

  constructor(
    readonly device: GPUDevice,
    readonly ledger: MemoryLedger,
    private readonly parent?: Arena,
    /** Called before a buffer is destroyed: the Gpu submits recorded work here, so a buffer
     *  released right after a dispatch that uses it was recorded is still valid for it. */
    private readonly beforeDestroy?: () => void,
  ) {}

  /** A child arena on the same device and ledger, for one run: `dispose()` frees all it made. */
  child(): Arena {
    this.assertLive();
    const c = new Arena(this.device, this.ledger, this, this.beforeDestroy);
    this.children.add(c);
    return c;
  }

  /** Allocate a buffer of `bytes` (rounded up to a multiple of 4) under `category`. */
  async alloc(category: LedgerCategory, bytes: number, label: string, usage: number = STORAGE_USAGE): Promise<GpuBuf> {
    if (this.planned) return this.fromPlan(this.planned, category, Math.max(4, align4(bytes)), align4(bytes), label, usage);
    const owned = await this.create(category, Math.max(4, align4(bytes)), label, usage);
    return this.handle(owned, align4(bytes), label, () => this.destroy(owned));
  }

  /** A pooled scratch buffer of at least `bytes`. `release()` returns it to the pool. */
  async scratch(bytes: number, label: string, usage: number = STORAGE_USAGE): Promise<GpuBuf> {
    const size = sizeClass(bytes);
    if (this.planned) return this.fromPlan(this.planned, 'scratch', size, align4(bytes), label, usage);
    const key = `${usage}:${size}`;
    const free = this.pool.get(key);
    const owned = free?.pop() ?? (await this.create('scratch', size, `scratch/${size}`, usage));
    return this.handle(owned, align4(bytes), label, () => {
      if (!this.owned.has(owned)) return;
      let list = this.pool.get(key);
      if (!list) this.pool.set(key, (list = []));
      list.push(owned);
    });
  }

  /** A pooled buffer the host can map for reading (copy destination). */
  readback(bytes: number): Promise<GpuBuf> {
    return this.scratch(bytes, 'readback', READBACK_USAGE);
  }

  /** Destroy pooled buffers that nobody holds. */
  trim(): void {
    for (const list of this.pool.values()) for (const o of list.splice(0)) this.destroy(o);
  }

  /** Destroy every buffer this arena (and its children) made; the ledger drops them all. */
  dispose(): void {
    if (this.disposed) return;
    for (const c of [...this.children]) c.dispose();
    for (const o of [...this.owned]) this.destroy(o);
    this.pool.clear();
    this.disposed = true;
    this.parent?.children.delete(this);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Number of live GPU buffers owned (pooled ones included); tests use it to find leaks. */
  get bufferCount(): number {
    let n = this.owned.size;
    for (const c of this.children) n += c.bufferCount;
    return n;
  }

  /** Bytes of the buffers this arena owns (not its children's). */
  get ownedBytes(): number {
    let n = 0;
    for (const o of this.owned) n += o.bytes;
    return n;
  }

  /** A buffer from the plan's free buffers of this exact (category, usage, bytes), or a new
   *  one; either way it belongs to the pass until MemoryPlan.end(). */
  private async fromPlan(p: NonNullable<Arena['planned']>, category: LedgerCategory, bytes: number, size: number, label: string, usage: number): Promise<GpuBuf> {
    const key = `${category}:${usage}:${bytes}`;
    const owned = p.free.get(key)?.pop() ?? (await this.create(category, bytes, label, usage));
    p.released.delete(owned);
    p.used.push(owned);
    // Released inside the pass (a scratch buffer done with, as a layer's probe or a chunk):
    // back to the plan at once, so the rest of the pass reuses it, as the scratch pool does.
    return this.handle(owned, size, label, () => {
      const i = p.used.indexOf(owned);
      if (i < 0) return;
      p.used.splice(i, 1);
      p.released.add(owned);
      let list = p.free.get(key);
      if (!list) p.free.set(key, (list = []));
      list.push(owned);
    });
  }

  /** Destroy one owned buffer (MemoryPlan's trimming). */
  destroyOwned(o: Owned): void {
    this.destroy(o);
  }

  private async create(category: LedgerCategory, bytes: number, label: string, usage: number): Promise<Owned> {
    this.assertLive();
    const limits = this.device.limits;
    if (bytes > limits.maxBufferSize) {
      throw new GpuOutOfMemoryError(
        `Cannot allocate ${label} (${category}): ${fmtBytes(bytes)} is over this GPU's largest buffer ` +
          `(maxBufferSize ${fmtBytes(limits.maxBufferSize)}). Use a smaller model, sequence length or batch, or a quantized base.`,
        bytes,
        category,
      );
    }
    if ((usage & BufferUsage.STORAGE) !== 0 && bytes > limits.maxStorageBufferBindingSize) {
      throw new GpuOutOfMemoryError(
        `Cannot allocate ${label} (${category}): ${fmtBytes(bytes)} is over this GPU's largest storage binding ` +
          `(maxStorageBufferBindingSize ${fmtBytes(limits.maxStorageBufferBindingSize)}). ` +
          `Use a smaller sequence length or batch, or a quantized base.`,
        bytes,
        category,
      );
    }
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const buffer = this.device.createBuffer({ size: bytes, usage, label });
    const validation = await this.device.popErrorScope();
    const oom = await this.device.popErrorScope();
    if (oom) {
      buffer.destroy();
      throw new GpuOutOfMemoryError(
        `The GPU ran out of memory allocating ${label} (${category}, ${fmtBytes(bytes)}); ` +
          `${fmtBytes(this.ledger.snapshot().totalLive)} already live. Free other runs, or lower batch, sequence length or rank.`,
        bytes,
        category,
      );
    }
    if (validation) {
      buffer.destroy();
      throw new GpuValidationError(`Allocating ${label} (${category}, ${fmtBytes(bytes)}) failed: ${validation.message}`);
    }
    const owned: Owned = { buffer, bytes, category, usage };
    this.owned.add(owned);
    this.ledger.add(category, bytes);
    return owned;
  }

  private destroy(o: Owned): void {
    if (!this.owned.delete(o)) return;
    this.beforeDestroy?.();
    o.buffer.destroy();
    this.ledger.remove(o.category, o.bytes);
  }

  private handle(o: Owned, size: number, label: string, onRelease: () => void): GpuBuf {
    let released = false;
    return {
      buffer: o.buffer,
      size,
      category: o.category,
      label,
      release: () => {
        if (released) return;
        released = true;
        onRelease();
      },
    };
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('arena used after dispose()');
  }
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
