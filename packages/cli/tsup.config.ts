import { packageBuild } from '../../tsup.base.js';

// The `nsbox` executable (main) is one file with commander and the SDK in it: a command that
// nsboxd serves loads it and core's light entry, nothing else. @nsbox/core, host and runtime
// stay packages of their own — plugins import the same copies — and load only in local mode.
// (commander is CommonJS: its require() of Node's modules goes through the base's banner.)
export default packageBuild({
  entry: ['src/index.ts', 'src/main.ts'],
  dts: { entry: 'src/index.ts' },
  noExternal: ['commander', '@nsbox/client'],
});
