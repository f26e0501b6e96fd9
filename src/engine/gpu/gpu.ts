// The engine's handle on one WebGPU device: acquisition, the arena and ledger, the kernel
// registry, and a small backend surface in the spirit of tinygrad's (alloc, write, read,
// dispatch). Dispatches are recorded into one compute pass and submitted on `submit()`,
// on any host write or read (which keeps program order), or when the uniform ring fills.

import { Arena, type GpuBuf } from './arena.ts';
import { countDevice, type DeviceCounts } from './counters.ts';
import { DeviceLostError, GpuValidationError, WebGpuUnavailableError } from './errors.ts';
import type { GpuHost } from './host.ts';
import { MemoryLedger } from './ledger.ts';
import { packParams, type Param } from './params.ts';
import { BufferUsage, MAP_READ } from './usage.ts';
import { KernelRegistry, type KernelSpec, type Overrides } from './registry.ts';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
  host: GpuHost['kind'];
}

export type GpuEvent =
  | { type: 'lost'; reason: string; message: string }
  | { type: 'error'; kind: 'validation' | 'out-of-memory' | 'internal'; message: string };

/** Limits we ask the adapter for at their maximum: model weights need big storage bindings. */
const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;
const WANTED_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];

export interface Dispatch {
  /** Uniform Params fields, in the shader struct's order. */
  params?: readonly Param[];
  /** Storage buffers for bindings 1..n. */
  buffers: readonly GpuBuf[];
  /** Workgroup counts. */
  grid: readonly [number, number?, number?];
  overrides?: Overrides;
}

/** A part of a buffer to read back. */
export interface ReadPart {
  src: GpuBuf;
  bytes?: number;
  offset?: number;
}

const UNIFORM_SLOT = 256;
/** Dispatches per uniform ring buffer (128 KiB each). */
export const RING_SLOTS = 512;
export const RING_BYTES = RING_SLOTS * UNIFORM_SLOT;
/** At most this many ring buffers (2 MiB, 8192 dispatches between submits). */
const MAX_RINGS = 16;

export class Gpu {
  readonly ledger = new MemoryLedger();
  readonly arena: Arena;
  readonly kernels: KernelRegistry;
  private listeners = new Set<(e: GpuEvent) => void>();
  private lostInfo: { reason: string; message: string } | undefined;

  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  /** Uniform rings: params of the dispatches recorded since the last submit, RING_SLOTS per
   *  ring. More rings are added (at the next await point) when a chain of dispatches
   *  overflowed them, so a steady-state step or token fits in one submit. */
  private readonly rings: { buf: GpuBuf; data: Uint32Array }[] = [];
  private ringIndex = 0;
  private ringUsed = 0;
  /** Dispatches recorded since the last submit that was not forced by a full ring. */
  private chain = 0;
  private ringsWanted = 1;
  private dispatchCount = 0;
  /** Buffers the recorded (not yet submitted) commands use: a host write to any other
   *  buffer needs no submit first. */
  private readonly pendingBuffers = new Set<GPUBuffer>();
  /** What reached the device (wrapped): buffers created, error scopes, submits, maps. */
  readonly counts: DeviceCounts;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    host: GpuHost,
  ) {
    this.counts = countDevice(device);
    this.arena = new Arena(device, this.ledger, undefined, () => this.submit());
    this.kernels = new KernelRegistry(device, (n) => host.loadShader(n));
    device.lost.then((info) => {
      this.lostInfo = { reason: info.reason, message: info.message };
      this.emit({ type: 'lost', reason: info.reason, message: info.message });
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      const kind = e.constructor.name === 'GPUOutOfMemoryError' ? 'out-of-memory' : e.constructor.name === 'GPUValidationError' ? 'validation' : 'internal';
      this.emit({ type: 'error', kind, message: e.message });
    });
  }

  static async acquire(host: GpuHost, powerPreference: GPUPowerPreference = 'high-performance'): Promise<Gpu> {
    const gpu = host.gpu();
    if (!gpu) throw new WebGpuUnavailableError(`WebGPU is not available. ${host.missingAdvice}`);
    const adapter = await gpu.requestAdapter({ powerPreference });
    if (!adapter) throw new WebGpuUnavailableError(`WebGPU is present but offers no GPU adapter. ${host.noAdapterAdvice}`);
    const requiredLimits: Record<string, number> = {};
    for (const k of WANTED_LIMITS) requiredLimits[k] = adapter.limits[k];
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webtune' });
    const info = adapter.info;
    const limits: Record<string, number> = {};
    for (const k of WANTED_LIMITS) limits[k] = device.limits[k];
    limits.minUniformBufferOffsetAlignment = device.limits.minUniformBufferOffsetAlignment;
    const summary: AdapterSummary = {
      vendor: info.vendor || 'unknown',
      architecture: info.architecture || 'unknown',
      device: info.device || '',
      description: info.description || '',
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
      features: [...device.features].sort(),
      limits,
      host: host.kind,
    };
    return new Gpu(device, summary, host);
  }

  /** A stable key for per-adapter caches (autotune choices). */
  get adapterKey(): string {
    const a = this.adapter;
    return `${a.host}|${a.vendor}|${a.architecture}|${a.device}|${a.description}`;
  }

  on(fn: (e: GpuEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get lost(): boolean {
    return this.lostInfo !== undefined;
  }

  /** Record one dispatch of `spec`. Nothing runs until `submit()` / `flush()` / a read. */
  dispatch(spec: KernelSpec, d: Dispatch): void {
    this.assertAlive();
    if (d.buffers.length !== spec.bindings.length) {
      throw new GpuValidationError(
        `${spec.shader}.${spec.entry} takes ${spec.bindings.length} storage buffers, got ${d.buffers.length}`,
      );
    }
    const pipeline = this.kernels.pipeline(spec, d.overrides);
    if (this.ringUsed === RING_SLOTS) {
      if (this.ringIndex + 1 < this.rings.length) {
        this.writeRing();
        this.ringIndex++;
        this.ringUsed = 0;
      } else this.submit(true);
    }
    const ring = this.rings[this.ringIndex];
    if (!ring) throw new Error('uniform ring missing: call Gpu.init() first');
    const slot = this.ringUsed++;
    this.chain++;
    ring.data.set(packParams(d.params ?? []), (slot * UNIFORM_SLOT) / 4);
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: ring.buf.buffer, offset: slot * UNIFORM_SLOT, size: UNIFORM_SLOT } },
      ...d.buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b.buffer, offset: 0, size: b.size } })),
    ];
    for (const b of d.buffers) this.pendingBuffers.add(b.buffer);
    const bindGroup = this.device.createBindGroup({ layout: this.kernels.layout(spec.bindings), entries });
    const pass = this.currentPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = d.grid;
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
  }

  /** Copy `bytes` from one buffer to another, in order with recorded dispatches. */
  copy(src: GpuBuf, dst: GpuBuf, bytes = Math.min(src.size, dst.size), srcOffset = 0, dstOffset = 0): void {
    this.assertAlive();
    this.endPass();
    this.currentEncoder().copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
    this.pendingBuffers.add(src.buffer);
    this.pendingBuffers.add(dst.buffer);
  }

  /** Submit recorded work. Synchronous; errors surface on the next `flush()`. */
  submit(ringFull = false): void {
    if (!this.encoder) return;
    this.endPass();
    this.writeRing();
    if (!ringFull) {
      this.ringsWanted = Math.max(this.ringsWanted, Math.min(MAX_RINGS, Math.ceil(this.chain / RING_SLOTS)));
      this.chain = 0;
    }
    this.ringIndex = 0;
    this.ringUsed = 0;
    const cmd = this.encoder.finish();
    this.encoder = undefined;
    this.pendingBuffers.clear();
    this.device.queue.submit([cmd]);
  }

  /** Submit, wait for the GPU to finish, and raise any pipeline or device error. */
  async flush(): Promise<void> {
    this.submit();
    await this.growRings();
    await this.kernels.check();
    await this.device.queue.onSubmittedWorkDone();
    this.assertAlive();
  }

  /** Allocate the uniform ring; `acquire` callers use `Gpu.create` which does it. */
  async init(): Promise<this> {
    await this.addRing();
    return this;
  }

  /** Bytes of the uniform rings (real memory, on the ledger under 'scratch'). */
  get ringBytes(): number {
    return this.rings.length * RING_BYTES;
  }

  private async addRing(): Promise<void> {
    const buf = await this.arena.alloc('scratch', RING_BYTES, `uniform ring ${this.rings.length}`, BufferUsage.UNIFORM | BufferUsage.COPY_DST);
    this.rings.push({ buf, data: new Uint32Array(RING_BYTES / 4) });
  }

  /** Add the rings a chain of dispatches wanted (only at an await point with nothing recorded,
   *  since rings in use by recorded work must not change). */
  private async growRings(): Promise<void> {
    while (this.rings.length < this.ringsWanted && !this.encoder) await this.addRing();
  }

  private writeRing(): void {
    const ring = this.rings[this.ringIndex];
    if (this.ringUsed > 0 && ring) this.device.queue.writeBuffer(ring.buf.buffer, 0, ring.data.buffer, 0, this.ringUsed * UNIFORM_SLOT);
  }

  static async create(host: GpuHost, powerPreference?: GPUPowerPreference): Promise<Gpu> {
    return (await Gpu.acquire(host, powerPreference)).init();
  }

  write(dst: GpuBuf, data: ArrayBufferView, dstOffset = 0): void {
    this.assertAlive();
    if (data.byteLength + dstOffset > dst.size) {
      throw new RangeError(`write of ${data.byteLength} B at ${dstOffset} overflows ${dst.label} (${dst.size} B)`);
    }
    // Recorded work that uses dst must see the old contents: submit it first. Work that does
    // not touch dst can stay recorded (a queue write lands before the next submit runs).
    if (this.pendingBuffers.has(dst.buffer)) this.submit();
    this.device.queue.writeBuffer(dst.buffer, dstOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Read `bytes` of `src` back to the host (waits for all recorded work). */
  async read(src: GpuBuf, bytes = src.size, offset = 0): Promise<ArrayBuffer> {
    const { done } = await this.readLater([{ src, bytes, offset }]);
    const [out] = await done;
    return out;
  }

  /**
   * Read parts of buffers back without waiting: one staging buffer (pooled), one copy per
   * part recorded after the work recorded so far, one submit, one map. Resolves, once the
   * copies are recorded and submitted, to `{ done }`, which resolves to the parts when the
   * GPU has finished: a caller can record the next step's work before it awaits `done`.
   */
  async readLater(parts: readonly ReadPart[]): Promise<{ done: Promise<ArrayBuffer[]> }> {
    this.assertAlive();
    const spans = parts.map((p) => ({ src: p.src, offset: p.offset ?? 0, bytes: p.bytes ?? p.src.size - (p.offset ?? 0) }));
    let total = 0;
    const at = spans.map((p) => {
      const o = total;
      total += Math.ceil(p.bytes / 4) * 4;
      return o;
    });
    const staging = await this.arena.readback(Math.max(4, total));
    this.endPass();
    const enc = this.currentEncoder();
    spans.forEach((p, i) => enc.copyBufferToBuffer(p.src.buffer, p.offset, staging.buffer, at[i], p.bytes));
    this.submit();
    const done = (async () => {
      try {
        await this.growRings();
        await this.kernels.check();
        await staging.buffer.mapAsync(MAP_READ, 0, Math.max(4, total));
        const range = staging.buffer.getMappedRange(0, Math.max(4, total));
        const out = spans.map((p, i) => range.slice(at[i], at[i] + p.bytes));
        staging.buffer.unmap();
        this.assertAlive();
        return out;
      } finally {
        staging.release();
      }
    })();
    return { done };
  }

  async readF32(src: GpuBuf, count = src.size / 4): Promise<Float32Array> {
    return new Float32Array(await this.read(src, count * 4));
  }

  async readU32(src: GpuBuf, count = src.size / 4): Promise<Uint32Array> {
    return new Uint32Array(await this.read(src, count * 4));
  }

  /** Allocate and fill a buffer from host data. */
  async upload(category: Parameters<Arena['alloc']>[0], data: ArrayBufferView, label: string, arena: Arena = this.arena): Promise<GpuBuf> {
    const b = await arena.alloc(category, data.byteLength, label);
    this.write(b, data);
    return b;
  }

  get dispatches(): number {
    return this.dispatchCount;
  }

  destroy(): void {
    this.arena.dispose();
    this.device.destroy();
  }

  private currentEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private currentPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.currentEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  private emit(e: GpuEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  private assertAlive(): void {
    if (this.lostInfo) {
      throw new DeviceLostError(
        `The GPU device was lost (${this.lostInfo.reason}): ${this.lostInfo.message}. Reload the page or restart the run to get a new device.`,
      );
    }
  }
}
