/**
 * Reads an image's layer list and config from an OCI image layout (index.json + blobs/) or
 * from an unpacked `docker save` / `podman save` archive (manifest.json + layer tars). Every
 * path an image names is confined to the image's directory: a save archive is untrusted
 * input, and its manifest could name /etc/shadow as a "layer".
 */

import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { isInside } from './tree-ops.js';
import type { ImageConfig } from './types.js';

export interface LayerRef {
  path: string;
  /** Checked while the layer is read (OCI layouts, where blobs are named by digest). */
  digest?: string;
}

export interface ImageSource {
  root: string;
  /** Names the image in messages (a save archive is read from a staging directory). */
  label: string;
  layers: LayerRef[];
  config?: ImageConfig;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export function isOciLayout(dir: string): boolean {
  return existsSync(join(dir, 'oci-layout')) && existsSync(join(dir, 'index.json'));
}

export function isDockerArchive(dir: string): boolean {
  if (!existsSync(join(dir, 'manifest.json'))) return false;
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as unknown;
    return Array.isArray(manifest) && manifest.length > 0 && Array.isArray((manifest[0] as { Layers?: unknown }).Layers);
  } catch {
    return false;
  }
}

/** The image for this host's platform in an OCI layout (following nested indexes). */
export function readOciLayout(root: string, label = root): ImageSource {
  const layout = readJson(root, 'oci-layout') as { imageLayoutVersion?: unknown };
  if (typeof layout.imageLayoutVersion !== 'string') throw invalid(root, 'oci-layout has no imageLayoutVersion');
  const manifest = selectManifest(root, readJson(root, 'index.json'), 'index.json') as { config?: Descriptor; layers?: Descriptor[] };
  if (!manifest.config || !Array.isArray(manifest.layers)) throw invalid(root, 'its image manifest has no config or no layers');
  const config = JSON.parse(readBlob(root, manifest.config).toString('utf8')) as unknown;
  return {
    root,
    label,
    layers: manifest.layers.map((layer) => ({ path: blobPath(root, layer.digest), digest: layer.digest })),
    ...withConfig(imageConfigOf(config)),
  };
}

/** The first image of an unpacked save archive (docker-archive format: manifest.json). */
export function readDockerArchive(root: string, label = root): ImageSource {
  const manifest = readJson(root, 'manifest.json') as { Config?: unknown; Layers?: unknown }[];
  const image = Array.isArray(manifest) ? manifest[0] : undefined;
  if (!image || !Array.isArray(image.Layers) || !image.Layers.every((layer) => typeof layer === 'string')) {
    throw invalid(root, 'manifest.json lists no image with Layers');
  }
  const config = typeof image.Config === 'string' ? (JSON.parse(readFileSync(confined(root, image.Config), 'utf8')) as unknown) : undefined;
  return {
    root,
    label,
    layers: (image.Layers as string[]).map((layer) => ({ path: confined(root, layer) })),
    ...withConfig(config === undefined ? undefined : imageConfigOf(config)),
  };
}

/** The runtime-relevant part of an image config (the JSON with `config.Cmd`...). */
export function imageConfigOf(json: unknown): ImageConfig {
  const section = (json as { config?: Record<string, unknown> } | null)?.config ?? {};
  const strings = (value: unknown) => (Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : undefined);
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const config: ImageConfig = {};
  const entrypoint = strings(section['Entrypoint']);
  const cmd = strings(section['Cmd']);
  const env = strings(section['Env']);
  const workingDir = text(section['WorkingDir']);
  const user = text(section['User']);
  if (entrypoint) config.entrypoint = entrypoint;
  if (cmd) config.cmd = cmd;
  if (env) config.env = env;
  if (workingDir) config.workingDir = workingDir;
  if (user) config.user = user;
  return config;
}

function withConfig(config: ImageConfig | undefined): { config?: ImageConfig } {
  return config ? { config } : {};
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

function selectManifest(root: string, index: unknown, from: string, depth = 0): unknown {
  const manifests = (index as { manifests?: Descriptor[] }).manifests;
  if (!Array.isArray(manifests) || manifests.length === 0) throw invalid(root, `${from} lists no manifests`);
  if (depth > 4) throw invalid(root, 'its indexes nest too deep');
  const arch = hostArchitecture();
  const seen: string[] = [];
  for (const descriptor of manifests) {
    // buildx stores provenance attestations as manifests for platform unknown/unknown.
    if (descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const platform = descriptor.platform;
    if (platform) seen.push(`${platform.os}/${platform.architecture}`);
    if (platform && (platform.os !== 'linux' || platform.architecture !== arch)) continue;
    const blob = JSON.parse(readBlob(root, descriptor).toString('utf8')) as { mediaType?: string; manifests?: unknown };
    if (INDEX_TYPES.has(descriptor.mediaType ?? '') || INDEX_TYPES.has(blob.mediaType ?? '') || Array.isArray(blob.manifests)) {
      return selectManifest(root, blob, descriptor.digest, depth + 1);
    }
    return blob;
  }
  throw new NsboxError('E_UNSUPPORTED', `OCI layout ${root} has no image for linux/${arch} (it has: ${seen.join(', ') || 'none'})`, {
    details: { path: root, platforms: seen },
  });
}

function hostArchitecture(): string {
  const names: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return names[process.arch] ?? process.arch;
}

/** blobs/<algorithm>/<hex>, refusing digests that are not plain hex (they become a path). */
function blobPath(root: string, digest: unknown): string {
  const match = typeof digest === 'string' ? /^(sha256):([a-f0-9]{64})$/.exec(digest) : null;
  if (!match) throw invalid(root, `it names a blob by an unsupported digest ${String(digest)}`);
  return confined(root, join('blobs', match[1]!, match[2]!));
}

function readBlob(root: string, descriptor: Descriptor): Buffer {
  const data = readFileSync(blobPath(root, descriptor.digest));
  const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  if (actual !== descriptor.digest) throw invalid(root, `blob ${descriptor.digest} does not match its digest (got ${actual})`);
  return data;
}

/** `relative` under `root`, which must be a regular file there once symlinks are resolved. */
function confined(root: string, relative: string): string {
  if (relative.startsWith('/') || relative.split('/').includes('..')) throw invalid(root, `it names a file outside itself: ${relative}`);
  const path = join(root, relative);
  if (!existsSync(path))
    throw new NsboxError('E_NOT_FOUND', `image ${root} names ${relative}, which it does not contain`, { details: { path: root, missing: relative } });
  const real = realpathSync(path);
  if (!isInside(realpathSync(root), real) || !lstatSync(real).isFile()) throw invalid(root, `${relative} is not a file inside it`);
  return real;
}

function readJson(root: string, relative: string): unknown {
  const path = confined(root, relative);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (error) {
    throw invalid(root, `${relative} cannot be read as JSON (${(error as Error).message})`);
  }
}

function invalid(root: string, why: string): NsboxError {
  return new NsboxError('E_INVALID_ARGUMENT', `image ${root} is not usable: ${why}`, { details: { path: root } });
}
