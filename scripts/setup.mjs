#!/usr/bin/env node
// Idempotent set-up shared by `npm start` and `npm test`: Debian packages, npm dependencies,
// native build, TypeScript build. Each step runs only when something it depends on changed,
// so a second run costs a second. Dependency-free on purpose: it runs before `npm install`.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptSets } from './apt-packages.mjs';
import { ensureCriu } from './criu.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));

function log(message) {
  process.stderr.write(`[setup] ${message}\n`);
}

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', cwd: repo, ...options });
  if (result.status !== 0) {
    log(`failed: ${command} ${commandArgs.join(' ')} (exit ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
}

function missingDebianPackages(packages) {
  return packages.filter((name) => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return !result.stdout?.includes('install ok installed');
  });
}

function ensureDebianPackages() {
  const plain = missingDebianPackages([...aptSets.base, ...(args.has('--bench') ? aptSets.bench : [])]);
  const recommended = missingDebianPackages(aptSets.withRecommends);
  const missing = [...plain, ...recommended];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    log(`missing Debian packages: ${missing.join(' ')}; run as root or install them with apt-get`);
    process.exit(1);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  if (plain.length > 0) run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...plain], { env });
  if (recommended.length > 0) run('apt-get', ['install', '-y', '-qq', ...recommended], { env });
}

function fingerprint(paths) {
  const hash = createHash('sha256');
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (!['node_modules', 'dist', 'build'].includes(entry)) visit(join(path, entry));
    } else {
      hash.update(path);
      hash.update(readFileSync(path));
    }
  };
  for (const path of paths) visit(join(repo, path));
  return hash.digest('hex');
}

function stampedStep(name, inputs, action) {
  const stamp = join(repo, 'node_modules', `.nsbox-${name}.stamp`);
  const print = fingerprint(inputs);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === print) return;
  action();
  writeFileSync(stamp, print);
}

function workspaceDirs() {
  const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  return manifest.workspaces.flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(repo, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory() && existsSync(join(repo, pattern.slice(0, -2), entry.name, 'package.json')))
          .map((entry) => `${pattern.slice(0, -2)}/${entry.name}`)
      : [pattern],
  );
}

ensureDebianPackages();

// CRIU for the migration plugin (trixie's, in a private prefix): a missing network only
// leaves checkpoint/restore unavailable, which the plugin's host info and tests then say.
if (process.getuid?.() === 0 && !args.has('--no-criu')) {
  try {
    ensureCriu({ prefix: process.env.NSBOX_CRIU_PREFIX, cache: process.env.NSBOX_CRIU_CACHE, log: (message) => log(`criu: ${message}`) });
  } catch (error) {
    log(`criu could not be installed (checkpoint/restore stays unavailable): ${error.message}`);
  }
}

const manifests = ['package.json', 'package-lock.json', ...workspaceDirs().map((dir) => `${dir}/package.json`)];
if (!existsSync(join(repo, 'node_modules'))) {
  log('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(join(repo, 'node_modules', '.nsbox-npm.stamp'), fingerprint(manifests));
} else {
  stampedStep('npm', manifests, () => {
    log('npm dependencies changed: npm install');
    run('npm', ['install', '--no-audit', '--no-fund']);
  });
}

stampedStep('native', ['native/src', 'native/binding.gyp'], () => {
  log('building native code (node-gyp)');
  run('npm', ['run', 'build:native', '-w', '@nsbox/native']);
});

if (!args.has('--no-build')) {
  stampedStep(
    'build',
    [...workspaceDirs().flatMap((dir) => [`${dir}/src`, `${dir}/lib`, `${dir}/tsup.config.ts`]), 'tsconfig.base.json', 'tsup.base.ts', 'tsup.code-cache.ts'],
    () => {
      log('building TypeScript packages (lerna run build)');
      run('npx', ['lerna', 'run', 'build', '--concurrency', '2', '--loglevel', 'warn']);
    },
  );
}

try {
  execFileSync(process.execPath, ['-e', 'require("better-sqlite3")'], { cwd: join(repo, 'packages/store'), stdio: 'pipe' });
} catch {
  log('better-sqlite3 does not load: rebuilding it');
  run('npm', ['rebuild', 'better-sqlite3']);
}
