/**
 * import() in a module of its own. Core's main entry runs as a code-cached script (see
 * tsup.code-cache.ts), and such a script cannot import() on Node 20 without an experimental
 * flag: this module stays an ES module, handed to that script, and imports for it.
 */
export function importModule(url: string): Promise<Record<string, unknown>> {
  return import(url) as Promise<Record<string, unknown>>;
}
