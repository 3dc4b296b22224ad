import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `npm run dev:web`: Vite on :5173 with /v1 proxied to the API (RENDERMILL_API_URL, default :3000).
// Tooling only; the app itself never reads the environment.
const api = process.env.RENDERMILL_API_URL ?? 'http://localhost:3000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  // The SDK from its sources (a workspace of this repository): no build of sdk/ needed first.
  resolve: { alias: { '@rendermill/sdk': fileURLToPath(new URL('../sdk/src/index.ts', import.meta.url)) } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Every asset is a file of our own origin (the CSP allows no data: scripts or fonts).
    assetsInlineLimit: 0,
  },
  server: { proxy: { '/v1': { target: api } } },
});
