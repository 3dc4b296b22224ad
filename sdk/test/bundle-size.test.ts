import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, stop } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

/** The SDK is for browsers too: its bundle (minified, everything but node:* inlined) stays small. */
export const MAX_GZIP_BYTES = 8 * 1024;

// esbuild keeps its service process for the next build; the file is done with it.
afterAll(() => stop());

describe('SDK bundle size', () => {
  it('when the SDK is bundled for a browser, then it has no dependencies and stays under 8 KB gzipped', async () => {
    const out = await build({
      entryPoints: [path.resolve(import.meta.dirname, '../src/index.ts')],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      // Only jobs.download({ to }) imports these, lazily, in Node.
      external: ['node:*'],
      write: false,
      metafile: true,
    });
    const code = out.outputFiles[0]!.contents;
    const gzip = gzipSync(code).length;
    console.log(`@rendermill/sdk bundle: ${code.length} B minified, ${gzip} B gzipped`);
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.every((f) => f.includes('sdk/src/'))).toBe(true);
    expect(gzip).toBeLessThan(MAX_GZIP_BYTES);
  });
});
