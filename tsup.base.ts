/** The build every package shares: ESM for Node 20 with type declarations. */
import { isBuiltin } from 'node:module';
import type { Plugin } from 'esbuild';
import { defineConfig, type Options } from 'tsup';

/**
 * Node's modules are required, not imported: an ES import of one gives its whole namespace,
 * which runs every lazy getter of the module — `crypto` loads webcrypto and some 35 modules
 * more, `fs` fs/promises and readline — milliseconds of every process that loads the package
 * (each CLI command). A require gets the module object; what is used of it loads when used.
 * commander's child_process (it spawns only for a subcommand that is an executable) loads
 * when it is first used.
 */
export const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      if (!isBuiltin(args.path)) return undefined;
      if (args.kind === 'import-statement') return { path: args.path, namespace: 'node-builtin' };
      if (args.path.endsWith('child_process') && /[/\\]commander[/\\]/.test(args.importer)) return { path: args.path, namespace: 'lazy-builtin' };
      return undefined;
    });
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `let loaded;\nmodule.exports = new Proxy({}, { get: (_, name) => (loaded ??= require(${JSON.stringify(args.path)}))[name] });`,
      loader: 'js',
    }));
  },
};

export function packageBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    // Node's modules keep their node: prefix, so that builtinsThroughRequire sees every one.
    removeNodeProtocol: false,
    // The require those modules (and bundled CommonJS packages) are loaded with.
    banner: { js: "import { createRequire as __nsboxCreateRequire } from 'node:module';\nconst require = __nsboxCreateRequire(import.meta.url);" },
    ...overrides,
    esbuildPlugins: [...(overrides.esbuildPlugins ?? []), builtinsThroughRequire],
  });
}
