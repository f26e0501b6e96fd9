// Counters of what reaches the device, kept by wrapping the GPUDevice's own methods (so a
// createBuffer or an error scope that bypasses the arena is counted too): buffers created,
// error scopes popped (every pop is awaited by someone: a round trip to the GPU process in
// a browser), submits, buffers mapped for reading and their bytes, and dispatches (counted
// on the compute pass encoders the device hands out). Hot-path tests and the benchmarks
// read deltas of `snapshot()` over a steady-state step or token: counts, never times.

export interface DeviceCounts {
  createBuffer: number;
  popErrorScope: number;
  submit: number;
  /** mapAsync calls (readbacks) and the bytes they mapped. */
  mapAsync: number;
  mapBytes: number;
  writeBuffer: number;
  dispatch: number;
  createBindGroup: number;
}

export function zeroCounts(): DeviceCounts {
  return { createBuffer: 0, popErrorScope: 0, submit: 0, mapAsync: 0, mapBytes: 0, writeBuffer: 0, dispatch: 0, createBindGroup: 0 };
}

/** after − before, field by field. */
export function countsDelta(after: DeviceCounts, before: DeviceCounts): DeviceCounts {
  const d = zeroCounts();
  for (const k of Object.keys(d) as (keyof DeviceCounts)[]) d[k] = after[k] - before[k];
  return d;
}

/** Per-unit averages of a delta over `units` steps or tokens. */
export function countsPer(d: DeviceCounts, units: number): DeviceCounts {
  const o = zeroCounts();
  for (const k of Object.keys(o) as (keyof DeviceCounts)[]) o[k] = d[k] / Math.max(1, units);
  return o;
}

/**
 * Wrap `device` (in place: its methods become counting wrappers around the originals) and
 * return the live counters. Wrapping twice returns the first counters.
 */
export function countDevice(device: GPUDevice): DeviceCounts {
  const tagged = device as GPUDevice & { __webtuneCounts?: DeviceCounts };
  if (tagged.__webtuneCounts) return tagged.__webtuneCounts;
  const c = zeroCounts();
  const createBuffer = device.createBuffer.bind(device);
  const popErrorScope = device.popErrorScope.bind(device);
  const createCommandEncoder = device.createCommandEncoder.bind(device);
  const createBindGroup = device.createBindGroup.bind(device);
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  const writeBuffer = queue.writeBuffer.bind(queue);
  device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    c.createBuffer++;
    const b = createBuffer(desc);
    const mapAsync = b.mapAsync.bind(b);
    b.mapAsync = (mode: GPUMapModeFlags, offset?: number, size?: number): Promise<undefined> => {
      c.mapAsync++;
      c.mapBytes += size ?? b.size - (offset ?? 0);
      return mapAsync(mode, offset, size);
    };
    return b;
  };
  device.popErrorScope = (): Promise<GPUError | null> => {
    c.popErrorScope++;
    return popErrorScope();
  };
  device.createBindGroup = (desc: GPUBindGroupDescriptor): GPUBindGroup => {
    c.createBindGroup++;
    return createBindGroup(desc);
  };
  device.createCommandEncoder = (desc?: GPUCommandEncoderDescriptor): GPUCommandEncoder => {
    const enc = createCommandEncoder(desc);
    const begin = enc.beginComputePass.bind(enc);
    enc.beginComputePass = (d?: GPUComputePassDescriptor): GPUComputePassEncoder => {
      const pass = begin(d);
      const dispatch = pass.dispatchWorkgroups.bind(pass);
      pass.dispatchWorkgroups = (x: number, y?: number, z?: number): undefined => {
        c.dispatch++;
        return dispatch(x, y, z);
      };
      return pass;
    };
    return enc;
  };
  queue.submit = (cmds: Iterable<GPUCommandBuffer>): undefined => {
    c.submit++;
    return submit(cmds);
  };
  queue.writeBuffer = ((...args: Parameters<GPUQueue['writeBuffer']>) => {
    c.writeBuffer++;
    return writeBuffer(...args);
  }) as GPUQueue['writeBuffer'];
  tagged.__webtuneCounts = c;
  return c;
}
