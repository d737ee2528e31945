import { packageBuild } from '../../tsup.base.js';

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
});
