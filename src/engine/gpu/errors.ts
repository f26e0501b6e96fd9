// Typed errors the GPU runtime raises. Each carries a message a person can act on; the
// `name` survives the worker boundary (comlink serialises name + message).

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

/** A buffer could not be allocated: the device is out of memory, or the size is over a limit. */
export class GpuOutOfMemoryError extends Error {
  override name = 'GpuOutOfMemoryError';
  constructor(
    message: string,
    readonly bytes: number,
    readonly category: string,
  ) {
    super(message);
  }
}

/** The device rejected something we asked of it (bad shader, bad binding, bad size). */
export class GpuValidationError extends Error {
  override name = 'GpuValidationError';
}

/** A WGSL module failed to compile or a pipeline failed to build. */
export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';
}

export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}
