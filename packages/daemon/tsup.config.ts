import { packageBuild } from '../../tsup.base.js';

// Two entries: the library (startDaemon, for embedding) and the nsboxd executable.
export default packageBuild({ entry: ['src/index.ts', 'src/main.ts'], dts: { entry: 'src/index.ts' } });
