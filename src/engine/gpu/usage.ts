// WebGPU flag values, fixed by the specification. The engine uses these rather than the
// GPUBufferUsage / GPUMapMode / GPUShaderStage globals so that no module depends on a host
// having installed those globals before it is imported.

export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MAP_READ = 0x0001;
export const SHADER_STAGE_COMPUTE = 0x4;
