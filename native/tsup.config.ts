import { packageBuild } from '../tsup.base.js';

// clean: false — build/ (node-gyp's output) lives beside dist/.
export default packageBuild({ entry: ['lib/index.ts'], clean: false });
