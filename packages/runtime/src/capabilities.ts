/** Linux capability names, as the launcher takes them: the one list lives in runtime-api. */
export { allCapabilities, defaultCapabilities } from '@nsbox/runtime-api';
