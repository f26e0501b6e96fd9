import { defineConfig } from '@playwright/test';

// Debian's chromium (never a downloaded browser): WebGPU on SwiftShader where there is no
// GPU. The app is built and served from http://localhost (navigator.gpu needs a secure context).
const base = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// WEBTUNE_PORT lets several checkouts run their e2e specs side by side on one machine.
const port = Number(process.env.WEBTUNE_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  expect: { timeout: 60_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [['list']],
  outputDir: 'test-results',
  use: { baseURL: `http://localhost:${port}`, viewport: { width: 1280, height: 800 } },
  webServer: {
    command: `npm run build && npm run preview -- --port ${port}`,
    url: `http://localhost:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 180_000,
  },
  projects: [
    {
      name: 'webgpu',
      testIgnore: /no-webgpu/,
      use: { launchOptions: { executablePath, args: [...base, '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'] } },
    },
    {
      name: 'no-webgpu',
      testMatch: /no-webgpu/,
      // No --enable-unsafe-webgpu: this chromium then exposes navigator.gpu but no adapter
      // (--disable-features=WebGPU changes nothing; the spec also removes navigator.gpu).
      use: { launchOptions: { executablePath, args: base } },
    },
  ],
});
