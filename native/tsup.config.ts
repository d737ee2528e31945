import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['lib/index.ts'],
  format: ['esm'],
  dts: true,
  clean: false,
  outDir: 'dist',
  sourcemap: true,
  target: 'node20',
});
