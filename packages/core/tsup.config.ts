import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { packageBuild } from '../../tsup.base.js';
import { buildCodeCacheEntry } from '../../tsup.code-cache.js';

/**
 * zod re-exports its ~40 message locales (`z.locales`, a third of core's bundle) and uses only
 * English unless told otherwise. Compiling them is most of what they cost every process that
 * loads core (each CLI command, nsboxd), and nsbox speaks English: `z.locales` keeps `en` alone.
 */
const englishOnlyZod: Plugin = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[/\\]node_modules[/\\]zod[/\\]/.test(args.importer) ? { path: join(dirname(args.importer), args.path), namespace: 'zod-locales' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

// zod, semver and inversify are used through core alone (plugins take `z`, `inject` and the
// container from @nsbox/core): bundled into core's build, they load as one file instead of
// some 400, which is most of a CLI command's start-up. Their types stay imports of the packages.
// `light` (errors, version) is an entry of its own for thin clients; the two entries share
// their modules as chunks (esbuild's splitting), so each class exists once.
const bundled = ['zod', 'semver', 'inversify', /^@inversifyjs\//, 'reflect-metadata'];

export default packageBuild({
  entry: ['src/index.ts', 'src/light.ts', 'src/dynamic-import.ts'],
  splitting: true,
  dts: { entry: ['src/index.ts', 'src/light.ts'] },
  noExternal: bundled,
  esbuildPlugins: [englishOnlyZod],
  // The main entry loads with V8's code cache (compiling core was most of a local command's
  // start-up); light's modules (errors, version, liveness) stay light's, shared with it, and
  // import() is dynamic-import's, an ES module.
  onSuccess: () =>
    buildCodeCacheEntry({
      packageDir: dirname(fileURLToPath(import.meta.url)),
      entry: 'src/index.ts',
      esmOutput: 'dist/index.js',
      bundle: bundled,
      plugins: [englishOnlyZod],
      // What every face does with core when it opens: a plugin host, a box config checked.
      warmUp: `const host = await exports.PluginHost.create({ plugins: [] });
await exports.validateBoxConfig({ rootfs: '/', process: { args: ['/bin/true'] } }, []).catch(() => undefined);
host.describe();`,
      sharedFrom: {
        'src/errors.ts': './light.js',
        'src/version.ts': './light.js',
        'src/process-alive.ts': './light.js',
        'src/dynamic-import.ts': './dynamic-import.js',
      },
    }),
});
