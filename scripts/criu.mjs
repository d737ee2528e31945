#!/usr/bin/env node
// CRIU for the migration plugin, in a private prefix. Debian 12's criu (3.17) fails on recent
// kernels ("vdso: Unexpected rt vDSO area bounds"); trixie's 4.1.1 dumps processes but no inet
// socket on kernels from 6.16 on (SO_PASSCRED and SO_PASSSEC are refused on them there:
// "sockets: Can't get 1:16 opt: Operation not supported"), so no box with a TCP server or
// connection; sid's 4.2 does (NSBOX_CRIU_SUITE or --suite picks another suite). It is fetched with an
// apt configuration of its own (its own sources list, lists and cache under the cache dir,
// `Dir::State::status=/dev/null`): the system's apt sources and its libc stay as they are.
// criu and its library closure are unpacked with `dpkg-deb -x` into the prefix and run through
// the prefix's own loader with `--library-path` (not LD_LIBRARY_PATH: the host tools criu runs,
// `ip`, `iptables-save`, `tar`, must keep the host's libraries). `PREFIX/bin/criu` is that call.
// The downloaded .debs stay in the cache: a second install (another prefix, a lost one) is
// offline. Dependency-free on purpose: setup.mjs runs it before `npm install`.
//
//   node scripts/criu.mjs [--prefix DIR] [--cache DIR]     installs (when missing) and prints the prefix

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CRIU_SUITE = 'sid';
export const CRIU_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_CRIU_PREFIX = '/var/lib/nsbox/criu';
export const DEFAULT_CRIU_CACHE = '/var/cache/nsbox-criu';
/** Written last into a complete prefix: what is there and where it came from. */
export const CRIU_MARKER = 'nsbox-criu.json';
const LOADER = 'usr/lib64/ld-linux-x86-64.so.2';
const LIBRARY_DIRS = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'];

function sh(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    const why = (result.stderr || result.stdout || String(result.error ?? '')).trim().split('\n').slice(-3).join(' / ');
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal}): ${why}`);
  }
  return result.stdout;
}

/** apt options that keep every file of this apt run under the cache dir (one apt dir per suite). */
function aptOptions(cache, suite) {
  const dir = join(cache, 'apt', suite);
  return [
    ['Dir::Etc::SourceList', join(dir, 'sources.list')],
    ['Dir::Etc::SourceParts', join(dir, 'sources.list.d')],
    ['Dir::Etc::Preferences', '/dev/null'],
    ['Dir::Etc::PreferencesParts', join(dir, 'preferences.d')],
    ['Dir::State::Lists', join(dir, 'lists')],
    ['Dir::State::status', '/dev/null'],
    ['Dir::Cache', join(dir, 'cache')],
    ['Dir::Cache::archives', join(cache, 'debs', suite)],
    ['Debug::NoLocking', '1'],
    ['APT::Get::List-Cleanup', '0'],
  ].flatMap(([key, value]) => ['-o', `${key}=${value}`]);
}

function prepareAptDirs(cache, mirror, suite) {
  const dir = join(cache, 'apt', suite);
  for (const sub of ['lists/partial', 'cache', 'sources.list.d', 'preferences.d']) mkdirSync(join(dir, sub), { recursive: true });
  mkdirSync(join(cache, 'debs', suite, 'partial'), { recursive: true });
  writeFileSync(join(dir, 'sources.list'), `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} ${suite} main\n`);
}

/** criu and what it depends on, transitively (Depends and Pre-Depends only): its runtime closure. */
function closure(options) {
  const out = sh('apt-cache', [
    ...options,
    'depends',
    '--recurse',
    '--no-recommends',
    '--no-suggests',
    '--no-conflicts',
    '--no-breaks',
    '--no-replaces',
    '--no-enhances',
    'criu',
  ]);
  return [...new Set(out.split('\n').filter((line) => line && !line.startsWith(' ') && !line.startsWith('<')))].sort();
}

/** The .deb files in the cache for these packages (the newest of each when several). */
function cachedDebs(dir, packages) {
  const files = readdirSync(dir).filter((name) => name.endsWith('.deb'));
  return packages.map((name) => {
    const matches = files.filter((file) => file.startsWith(`${name}_`)).sort();
    return matches.length > 0 ? join(dir, matches[matches.length - 1]) : undefined;
  });
}

/** The criu command of a prefix: its loader, its libraries, its binary. */
export function criuCommand(prefix) {
  return {
    file: join(prefix, LOADER),
    args: ['--library-path', LIBRARY_DIRS.map((dir) => join(prefix, dir)).join(':'), join(prefix, 'usr/sbin/criu')],
  };
}

/** The prefix's record, or undefined when it is not a complete install. */
export function installedCriu(prefix = DEFAULT_CRIU_PREFIX) {
  try {
    return JSON.parse(readFileSync(join(prefix, CRIU_MARKER), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Installs criu into `prefix` unless a complete install is there. Downloads only what the
 * cache lacks; the prefix appears whole (unpacked beside it, then renamed) or not at all.
 */
export function ensureCriu({ prefix = DEFAULT_CRIU_PREFIX, cache = DEFAULT_CRIU_CACHE, mirror = CRIU_MIRROR, suite = CRIU_SUITE, log = () => {} } = {}) {
  const present = installedCriu(prefix);
  if (present && present.suite === suite) return present;
  prepareAptDirs(cache, mirror, suite);
  const options = aptOptions(cache, suite);
  const debsDir = join(cache, 'debs', suite);
  const update = () => {
    log(`fetching the ${suite} package lists into ${cache} (the system's apt sources are not touched)`);
    sh('apt-get', [...options, '-qq', 'update']);
  };
  if (!readdirSync(join(cache, 'apt', suite, 'lists')).some((name) => name.includes('_Packages'))) update();
  const packages = closure(options);
  let debs = cachedDebs(debsDir, packages);
  const missing = packages.filter((_, index) => !debs[index]);
  if (missing.length > 0) {
    log(`downloading ${missing.join(' ')} from ${suite}`);
    try {
      sh('apt-get', [...options, '-qq', 'download', ...missing], { cwd: debsDir });
    } catch {
      // Lists older than the archive name files it no longer has: fresh lists, once.
      update();
      sh('apt-get', [...options, '-qq', 'download', ...closure(options).filter((name) => !cachedDebs(debsDir, [name])[0])], { cwd: debsDir });
    }
    debs = cachedDebs(debsDir, packages);
  }
  const staging = `${prefix}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    for (const deb of debs) sh('dpkg-deb', ['-x', deb, staging]);
    const command = criuCommand(staging);
    // Every library criu loads must come from the prefix: the loader's own list says so.
    const libraries = sh(command.file, ['--list', ...command.args.slice(0, 2), command.args[2]]);
    if (libraries.includes('not found')) throw new Error(`criu in ${staging} misses libraries:\n${libraries}`);
    const version = sh(command.file, [...command.args, '--version']).match(/Version:\s*(\S+)/)?.[1];
    if (!version) throw new Error('criu --version printed no version');
    mkdirSync(join(staging, 'bin'), { recursive: true });
    const wrapper = join(staging, 'bin', 'criu');
    writeFileSync(
      wrapper,
      [
        '#!/bin/sh',
        '# trixie criu through the prefix loader (scripts/criu.mjs)',
        'P=$(cd "$(dirname "$0")/.." && pwd)',
        `exec "$P/${LOADER}" --library-path "${LIBRARY_DIRS.map((dir) => `$P/${dir}`).join(':')}" "$P/usr/sbin/criu" "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(wrapper, 0o755);
    // The plugin runs criu from this record (paths relative to the prefix): one place knows the layout.
    const record = {
      version,
      suite,
      mirror,
      command: { loader: LOADER, libraryPath: LIBRARY_DIRS, criu: 'usr/sbin/criu' },
      packages: debs.map((deb) => deb.split('/').pop()),
      installedAt: new Date().toISOString(),
    };
    writeFileSync(join(staging, CRIU_MARKER), `${JSON.stringify(record, null, 2)}\n`);
    mkdirSync(join(prefix, '..'), { recursive: true });
    if (existsSync(prefix)) rmSync(prefix, { recursive: true, force: true }); // an incomplete one (no marker)
    renameSync(staging, prefix);
    log(`criu ${version} installed in ${prefix}`);
    return record;
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const option = (name, fallback) => {
    const index = argv.indexOf(name);
    return index >= 0 ? argv[index + 1] : fallback;
  };
  const prefix = option('--prefix', process.env.NSBOX_CRIU_PREFIX ?? DEFAULT_CRIU_PREFIX);
  const cache = option('--cache', process.env.NSBOX_CRIU_CACHE ?? DEFAULT_CRIU_CACHE);
  const suite = option('--suite', process.env.NSBOX_CRIU_SUITE ?? CRIU_SUITE);
  const record = ensureCriu({ prefix, cache, suite, log: (message) => process.stderr.write(`[criu] ${message}\n`) });
  process.stdout.write(`${prefix} ${record.version}\n`);
}
