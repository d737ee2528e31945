import { codeCachedPackageBuild } from '../../tsup.code-cache.js';

// The entry loads with V8's code cache: every local CLI command imports every plugin.
export default codeCachedPackageBuild(import.meta.url);
