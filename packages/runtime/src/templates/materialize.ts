/**
 * Makes a box's rootfs from a template: a built-in (copied from the cache), a directory
 * (copied), a rootfs tarball (extracted), an OCI image layout or a save archive (layers
 * applied in order). Whatever fails, the target is removed: a box never starts on half a rootfs.
 */

import { existsSync, mkdirSync, readdirSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError, toNsboxError } from '@nsbox/core';
import { hasArchiveSuffix } from './archive-format.js';
import { builtinTemplates, cachedBuiltin, isBuiltin } from './builtins.js';
import { applyLayers } from './image-layers.js';
import { type ImageSource, isDockerArchive, isOciLayout, readDockerArchive, readOciLayout } from './image-source.js';
import { closeArchive, extractScanned, type OpenArchive, openArchive, scanArchive } from './safe-extract.js';
import type { TarEntry } from './tar-listing.js';
import { copyTree, isInside, prepareTarget, removeStaleWork, removeTree, workDirName } from './tree-ops.js';
import type { MaterializedTemplate, MaterializeOptions, ProgressSink, TemplateKind } from './types.js';

const PATH_KINDS =
  'an absolute path to a directory (a rootfs or an OCI image layout), a rootfs tarball (.tar, .tar.gz/.tgz, .tar.zst, .tar.xz) or a docker/podman save archive';
const EXPECTED = `a built-in name, or ${PATH_KINDS}`;

type Source =
  | { kind: 'builtin'; name: string }
  | { kind: 'directory' | 'oci-layout' | 'docker-archive'; path: string }
  | { kind: 'file'; path: string; archive: OpenArchive };

export async function materializeTemplate(template: string, targetDir: string, options: MaterializeOptions): Promise<MaterializedTemplate> {
  const progress = progressSink(options.onProgress);
  let source: Source;
  try {
    source = resolveTemplate(template);
  } catch (error) {
    removeIfEmpty(targetDir);
    throw error;
  }
  try {
    prepareTarget(targetDir);
  } catch (error) {
    if (source.kind === 'file') closeArchive(source.archive);
    throw error;
  }
  try {
    const made = await fill(source, template, targetDir, options, progress);
    progress({ step: 'done', percent: 100 });
    return { template, rootfs: targetDir, ...made };
  } catch (error) {
    await removeTree(targetDir).catch(() => undefined);
    throw toNsboxError(error, 'E_RUNTIME');
  } finally {
    if (source.kind === 'file') closeArchive(source.archive);
  }
}

/** Decides what the template is before anything is written. */
function resolveTemplate(template: string): Source {
  if (isBuiltin(template)) return { kind: 'builtin', name: template };
  if (!template.startsWith('/')) {
    if (template.includes('/') || template.startsWith('.') || hasArchiveSuffix(template)) {
      throw new NsboxError('E_INVALID_ARGUMENT', `template path ${template} must be absolute`, { details: { template } });
    }
    throw new NsboxError(
      'E_NOT_FOUND',
      `there is no template "${template}": the built-ins are ${builtinTemplates.join(', ')}; anything else is ${PATH_KINDS}`,
      {
        details: { template, builtins: builtinTemplates },
      },
    );
  }
  const stat = statSync(template, { throwIfNoEntry: false });
  if (!stat) {
    throw new NsboxError('E_NOT_FOUND', `template ${template} does not exist (the built-ins are ${builtinTemplates.join(', ')})`, {
      details: { template, builtins: builtinTemplates },
    });
  }
  if (stat.isDirectory()) {
    if (isOciLayout(template)) return { kind: 'oci-layout', path: template };
    if (isDockerArchive(template)) return { kind: 'docker-archive', path: template };
    return { kind: 'directory', path: template };
  }
  const archive = stat.isFile() ? openArchive(template, template) : null;
  if (!archive) {
    throw new NsboxError('E_INVALID_ARGUMENT', `template ${template} is neither a directory nor a known archive: expected ${EXPECTED}`, {
      details: { template },
    });
  }
  return { kind: 'file', path: template, archive };
}

async function fill(
  source: Source,
  template: string,
  target: string,
  options: MaterializeOptions,
  progress: ProgressSink,
): Promise<{ kind: TemplateKind; config?: MaterializedTemplate['config'] }> {
  const { signal } = options;
  switch (source.kind) {
    case 'builtin': {
      const cached = await cachedBuiltin(source.name, options.cacheDir, { signal, onProgress: progress });
      await copy(cached, target, progress, signal);
      return { kind: 'builtin' };
    }
    case 'directory': {
      if (isInside(realpathSync(source.path), realpathSync(target))) {
        throw new NsboxError('E_INVALID_ARGUMENT', `template directory ${source.path} contains the target ${target}`, { details: { template, target } });
      }
      await copy(source.path, target, progress, signal);
      return { kind: 'directory' };
    }
    case 'oci-layout':
      return image('oci-layout', readOciLayout(source.path), target, options, progress);
    case 'docker-archive':
      return image('docker-archive', readDockerArchive(source.path), target, options, progress);
    case 'file':
      return fromArchive(source.archive, template, target, options, progress);
  }
}

async function copy(from: string, target: string, progress: ProgressSink, signal?: AbortSignal): Promise<void> {
  progress({ step: 'copy', percent: 0, message: `copying ${from}` });
  await copyTree(from, target, signal);
  progress({ step: 'copy', percent: 100, message: `copied ${from}` });
}

async function image(kind: TemplateKind, source: ImageSource, target: string, options: MaterializeOptions, progress: ProgressSink) {
  await applyLayers(source, target, { signal: options.signal, progress });
  return { kind, ...(source.config ? { config: source.config } : {}) };
}

/** A file: a rootfs tarball, or a save archive that is unpacked to a staging directory first. */
async function fromArchive(archive: OpenArchive, template: string, target: string, options: MaterializeOptions, progress: ProgressSink) {
  const { signal } = options;
  const percent = (step: string) => (fraction: number) => progress({ step, percent: Math.floor(fraction * 100) });
  const entries = await scanArchive(archive, { signal, onFraction: percent('check') });
  const kind = classify(entries);
  if (kind === 'tarball') {
    await extractScanned(archive, entries, target, { layer: false, signal, onFraction: percent('extract') });
    return { kind };
  }
  mkdirSync(options.cacheDir, { recursive: true });
  await removeStaleWork(options.cacheDir);
  const staging = join(options.cacheDir, workDirName('import'));
  mkdirSync(staging, { mode: 0o700 });
  try {
    await extractScanned(archive, entries, staging, { layer: false, signal, onFraction: percent('unpack') });
    const source = kind === 'docker-archive' ? readDockerArchive(staging, template) : readOciLayout(staging, template);
    return await image(kind, source, target, options, progress);
  } finally {
    await removeTree(staging).catch(() => undefined);
  }
}

/**
 * A save archive has manifest.json (docker-archive; docker 25+ adds an OCI layout beside it)
 * or oci-layout + index.json (oci-archive) at its top, and no rootfs directories.
 */
function classify(entries: TarEntry[]): 'tarball' | 'docker-archive' | 'oci-archive' {
  const top = new Map(entries.filter((entry) => entry.path !== '' && !entry.path.includes('/')).map((entry) => [entry.path, entry.type]));
  if (['etc', 'usr', 'bin'].some((dir) => top.has(dir))) return 'tarball';
  if (top.get('manifest.json') === 'file') return 'docker-archive';
  if (top.get('oci-layout') === 'file' && top.get('index.json') === 'file') return 'oci-archive';
  return 'tarball';
}

/** The contract says a failed materialize leaves no target; an empty one is safe to remove. */
function removeIfEmpty(dir: string): void {
  try {
    if (existsSync(dir) && statSync(dir).isDirectory() && readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Not ours to insist on.
  }
}

/** Drops repeats (a percent that did not move) and keeps a throwing listener from failing the build. */
function progressSink(onProgress: MaterializeOptions['onProgress']): ProgressSink {
  let last = '';
  return (progress) => {
    if (!onProgress) return;
    const key = `${progress.step}\0${progress.percent}\0${progress.message}`;
    if (key === last) return;
    last = key;
    try {
      onProgress(progress);
    } catch {
      // A progress display that breaks must not break the box.
    }
  };
}
