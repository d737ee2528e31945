/** A plugin state store in memory, for unit tests of plugins (the SQLite one is tested in packages/store). */

import type { PluginStateStore } from '@nsbox/core';

export function memoryPluginState(): PluginStateStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  const id = (namespace: string, key: string) => `${namespace}\u0000${key}`;
  return {
    data,
    get: (namespace, key) => data.get(id(namespace, key)),
    set: (namespace, key, value) => void data.set(id(namespace, key), value),
    claim: (namespace, key, value) => {
      if (data.has(id(namespace, key))) return false;
      data.set(id(namespace, key), value);
      return true;
    },
    delete: (namespace, key) => void data.delete(id(namespace, key)),
    list: (namespace, prefix = '') =>
      [...data.entries()]
        .filter(([key]) => key.startsWith(`${namespace}\u0000${prefix}`))
        .map(([key, value]) => ({ key: key.slice(namespace.length + 1), value }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}
