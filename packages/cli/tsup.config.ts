import { packageBuild } from '../../tsup.base.js';

// The `nsbox` executable (main) is one file with commander and the SDK in it: a command that
// nsboxd serves loads it and core's light entry, nothing else. @nsbox/core, host and runtime
// stay packages of their own — plugins import the same copies — and load only in local mode.
export default packageBuild({
  entry: ['src/index.ts', 'src/main.ts'],
  dts: { entry: 'src/index.ts' },
  noExternal: ['commander', '@nsbox/client'],
  // commander is CommonJS: its require() of Node's modules needs a require in the ESM output.
  banner: { js: "import { createRequire as __nsboxCreateRequire } from 'node:module';\nconst require = __nsboxCreateRequire(import.meta.url);" },
});
