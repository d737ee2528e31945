// The Debian mirrors this machine's apt uses (/etc/apt/sources.list and sources.list.d, both
// the one-line and the deb822 format): the guest is built from the same ones, since this
// machine may reach no other.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One apt source: a URI and the suites and components it serves. */
function oneLineSources(text) {
  const sources = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ')) continue;
    // 'deb [arch=amd64 signed-by=...] URI suite component...'
    const words = line
      .replace(/\[[^\]]*\]/, '')
      .split(/\s+/)
      .slice(1);
    const [uri, suite, ...components] = words;
    if (uri && suite) sources.push({ uri, suites: [suite], components });
  }
  return sources;
}

function deb822Sources(text) {
  const sources = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = {};
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line.trim());
      if (match && !line.trim().startsWith('#')) fields[match[1].toLowerCase()] = match[2].trim();
    }
    if (!(fields.types ?? '').split(/\s+/).includes('deb') || !fields.uris || !fields.suites) continue;
    if ((fields.enabled ?? 'yes') === 'no') continue;
    for (const uri of fields.uris.split(/\s+/)) {
      sources.push({ uri, suites: fields.suites.split(/\s+/), components: (fields.components ?? '').split(/\s+/).filter(Boolean) });
    }
  }
  return sources;
}

/** Every 'deb' source apt reads on this machine. */
export function aptSources(etc = '/etc/apt') {
  const sources = [];
  const list = join(etc, 'sources.list');
  if (existsSync(list)) sources.push(...oneLineSources(readFileSync(list, 'utf8')));
  const dir = join(etc, 'sources.list.d');
  for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
    const text = readFileSync(join(dir, name), 'utf8');
    if (name.endsWith('.list')) sources.push(...oneLineSources(text));
    else if (name.endsWith('.sources')) sources.push(...deb822Sources(text));
  }
  return sources;
}

/**
 * The Debian sources for a release: the archive (suite 'bookworm'), its updates and its
 * security suite, each with the mirror this machine uses. Third-party repositories (their
 * suites are not the release's) are left out: the guest holds Debian's packages only.
 */
export function debianSources(release, sources = aptSources()) {
  const wanted = [release, `${release}-updates`, `${release}-security`];
  const picked = [];
  for (const suite of wanted) {
    const source = sources.find((candidate) => candidate.suites.includes(suite));
    if (source) picked.push({ uri: source.uri.replace(/\/+$/, ''), suite, components: ['main'] });
  }
  if (!picked.some((source) => source.suite === release)) {
    throw new Error(`no apt source on this machine serves Debian '${release}' (read /etc/apt/sources.list and sources.list.d): the guest cannot be built`);
  }
  return picked;
}

/** The guest's /etc/apt/sources.list, one line per source. */
export function sourcesListText(sources) {
  return sources.map((source) => `deb ${source.uri} ${source.suite} ${source.components.join(' ')}`).join('\n') + '\n';
}
