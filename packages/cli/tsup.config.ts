import { isBuiltin } from 'node:module';
import type { Plugin } from 'esbuild';
import { packageBuild } from '../../tsup.base.js';

/**
 * Node's modules are required, not imported: an ES import of one gives its whole namespace,
 * which runs every lazy getter of the module — `crypto` loads webcrypto and some 35 modules
 * more, `fs` loads fs/promises and readline — ~15 ms of every command. A require gets the
 * module object; what the CLI uses of it loads when it is used.
 */
const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      if (!isBuiltin(args.path)) return undefined;
      if (args.kind === 'import-statement') return { path: args.path, namespace: 'node-builtin' };
      // commander spawns with it only for a subcommand that is an executable (nsbox has none).
      if (args.path.endsWith('child_process') && /[/\\]commander[/\\]/.test(args.importer)) return { path: args.path, namespace: 'lazy-builtin' };
      return undefined;
    });
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `let loaded;\nmodule.exports = new Proxy({}, { get: (_, name) => (loaded ??= require(${JSON.stringify(args.path)}))[name] });`,
      loader: 'js',
    }));
  },
};

// The `nsbox` executable (main) is one file with commander and the SDK in it: a command that
// nsboxd serves loads it and core's light entry, nothing else. @nsbox/core, host and runtime
// stay packages of their own — plugins import the same copies — and load only in local mode.
export default packageBuild({
  entry: ['src/index.ts', 'src/main.ts'],
  dts: { entry: 'src/index.ts' },
  noExternal: ['commander', '@nsbox/client'],
  esbuildPlugins: [builtinsThroughRequire],
  // Node's modules keep their node: prefix, so that builtinsThroughRequire sees every one of them.
  removeNodeProtocol: false,
  // commander is CommonJS: its require() of Node's modules needs a require in the ESM output
  // (and so do Node's modules, see builtinsThroughRequire).
  banner: { js: "import { createRequire as __nsboxCreateRequire } from 'node:module';\nconst require = __nsboxCreateRequire(import.meta.url);" },
});
