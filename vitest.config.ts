import { defineConfig } from 'vitest/config';

// Unit and kernel tests run in Node; kernels execute on Dawn's Node bindings (the `webgpu`
// package), which on machines without a GPU reach SwiftShader's Vulkan on the CPU.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
