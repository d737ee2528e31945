/**
 * `@nsbox/core/light`: what a thin client of nsboxd needs from core — the error codes and
 * classes, the plugin API version, process liveness — without the plugin machinery (zod,
 * semver, inversify), whose loading is most of a CLI command's start-up. Its modules are
 * chunks shared with the main entry, so an NsboxError is one class whichever entry made it.
 */

export * from './errors.js';
export { isProcessAlive } from './process-alive.js';
export { CORE_API_VERSION } from './version.js';
