/** The plugin API version of this core; plugins declare a semver range against it. */
export const CORE_API_VERSION = '1.1.0';
