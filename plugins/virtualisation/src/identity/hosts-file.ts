/**
 * A box's /etc/hosts after its names changed: every name the box had (its old fully qualified
 * name and its old host name) becomes the new ones, on whatever line the box or the network
 * plugin put it. A file that named neither (a template's own name) gets them on its
 * `127.0.1.1` line, Debian's line for the machine's own name, or a new such line. Lines that
 * do not name the box stay byte for byte.
 */

export interface BoxNames {
  hostname: string;
  /** None: the box's names are its host name alone. */
  domainname?: string | undefined;
}

export function fullName(names: BoxNames): string {
  return names.domainname ? `${names.hostname}.${names.domainname}` : names.hostname;
}

/** The names a line gives the box, fully qualified first (as Debian's hosts(5) example). */
function namesOf(names: BoxNames): string[] {
  return [...new Set([fullName(names), names.hostname])];
}

export function renameInHosts(text: string, from: BoxNames, to: BoxNames): string {
  const renamed = renameLines(text, new Set(namesOf(from)), to);
  if (renamed !== undefined) return renamed;
  const own = text.split('\n').findIndex((line) => /^\s*127\.0\.1\.1\s/.test(line));
  if (own >= 0) {
    const lines = text.split('\n');
    const comment = (lines[own] as string).indexOf('#');
    lines[own] = `127.0.1.1\t${namesOf(to).join(' ')}${comment >= 0 ? ` ${(lines[own] as string).slice(comment)}` : ''}`;
    return lines.join('\n');
  }
  const ending = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${ending}127.0.1.1\t${namesOf(to).join(' ')}\n`;
}

/** The lines with the box's old names renamed; undefined when no line names the box, old or new. */
function renameLines(text: string, old: Set<string>, to: BoxNames): string | undefined {
  const fresh = namesOf(to);
  let named = false;
  const lines = text.split('\n').map((line) => {
    const hash = line.indexOf('#');
    const body = hash >= 0 ? line.slice(0, hash) : line;
    const [address, ...aliases] = body.trim().split(/\s+/).filter(Boolean);
    if (!address || aliases.length === 0) return line;
    if (!aliases.some((alias) => old.has(alias))) {
      if (aliases.includes(to.hostname)) named = true;
      return line;
    }
    named = true;
    // The box's new names where its first old one stood; other names of the line kept in order.
    const renamed = aliases.flatMap((alias, index) => (old.has(alias) ? (aliases.findIndex((a) => old.has(a)) === index ? fresh : []) : [alias]));
    const kept = [...new Set(renamed)];
    return `${address}\t${kept.join(' ')}${hash >= 0 ? ` ${line.slice(hash)}` : ''}`;
  });
  return named ? lines.join('\n') : undefined;
}
