import { dirname, join } from 'node:path';
import type { Plugin } from 'esbuild';
import { packageBuild } from '../../tsup.base.js';

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
export default packageBuild({
  entry: ['src/index.ts', 'src/light.ts'],
  splitting: true,
  dts: { entry: ['src/index.ts', 'src/light.ts'] },
  noExternal: ['zod', 'semver', 'inversify', /^@inversifyjs\//, 'reflect-metadata'],
  esbuildPlugins: [englishOnlyZod],
});
