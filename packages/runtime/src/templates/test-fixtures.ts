/**
 * Helpers for the template tests: temp directories removed after each test, and hand-made
 * archives and images built with the real tar, so the tests read what real tools write.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Call in a describe block: returns a maker of `nsbox-test-<label>-*` dirs, all removed after each test. */
export function useTempDirs(): (label: string) => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (label) => {
    const dir = mkdtempSync(join(tmpdir(), `nsbox-test-${label}-`));
    dirs.push(dir);
    return dir;
  };
}

/** Runs a command and fails the test with its stderr when it fails. */
export function run(command: string, args: string[], options: { cwd?: string; input?: string } = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** Files under `dir`: a string is a file's content, `{ symlink }` a symlink, `{ dir: true }` an empty directory. */
export type TreeSpec = Record<string, string | { symlink: string } | { dir: true }>;

export function writeTree(dir: string, spec: TreeSpec): string {
  for (const [path, what] of Object.entries(spec)) {
    const full = join(dir, path);
    mkdirSync(join(full, '..'), { recursive: true });
    if (typeof what === 'string') writeFileSync(full, what);
    else if ('symlink' in what) run('ln', ['-s', what.symlink, full]);
    else mkdirSync(full, { recursive: true });
  }
  return dir;
}

/** `tar -C dir -cf out .`, compressed as the suffix of `out` says. */
export function tarDirectory(dir: string, out: string, extra: string[] = []): string {
  const flags = out.endsWith('.gz') || out.endsWith('.tgz') ? ['--gzip'] : out.endsWith('.zst') ? ['--zstd'] : out.endsWith('.xz') ? ['--xz'] : [];
  run('tar', ['--numeric-owner', ...flags, ...extra, '-cf', out, '-C', dir, '.']);
  return out;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
}

/** Stores `data` as blobs/sha256/<hex> of an OCI layout. */
export function writeBlob(layout: string, mediaType: string, data: Buffer | string): Blob {
  const digest = sha256(data);
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(layout, 'blobs/sha256', digest.slice(7)), data);
  return { mediaType, digest, size: Buffer.byteLength(data) };
}

export interface ImageConfigJson {
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
}

export function imageConfigJson(config: ImageConfigJson, layerTars: string[]): string {
  return JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: layerTars.map((tar) => sha256(readFileSync(tar))) },
  });
}

/** An OCI image layout with the given layer archives (gzip ones by their suffix) in order. */
export function writeOciLayout(layout: string, layerTars: string[], config: ImageConfigJson, options: { platforms?: string[] } = {}): Blob {
  mkdirSync(layout, { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const layers = layerTars.map((tar) =>
    writeBlob(layout, tar.endsWith('.gz') ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar', readFileSync(tar)),
  );
  const configBlob = writeBlob(layout, 'application/vnd.oci.image.config.v1+json', imageConfigJson(config, layerTars));
  const manifest = writeBlob(
    layout,
    'application/vnd.oci.image.manifest.v1+json',
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configBlob, layers }),
  );
  const platforms = options.platforms ?? [];
  const manifests =
    platforms.length === 0
      ? [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]
      : platforms.map((platform) => {
          const [os, architecture] = platform.split('/');
          // Other platforms point at a manifest that does not exist: choosing one of them fails the test.
          const digest = architecture === 'amd64' ? manifest.digest : sha256(platform);
          return { ...manifest, digest, platform: { os, architecture } };
        });
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  return manifest;
}

/** A `docker save` / podman docker-archive: manifest.json, <config>.json and <id>/layer.tar, tarred. */
export function writeDockerArchive(work: string, out: string, layerTars: string[], config: ImageConfigJson): string {
  const staging = join(work, 'docker-archive-staging');
  mkdirSync(staging, { recursive: true });
  const configJson = imageConfigJson(config, layerTars);
  const configName = `${sha256(configJson).slice(7)}.json`;
  writeFileSync(join(staging, configName), configJson);
  const layers = layerTars.map((tar) => {
    const id = sha256(readFileSync(tar)).slice(7);
    mkdirSync(join(staging, id));
    writeFileSync(join(staging, id, 'layer.tar'), readFileSync(tar));
    return `${id}/layer.tar`;
  });
  writeFileSync(join(staging, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: ['localhost/test:latest'], Layers: layers }]));
  writeFileSync(join(staging, 'repositories'), JSON.stringify({ 'localhost/test': { latest: layers.at(-1)?.split('/')[0] } }));
  run('tar', ['-cf', out, '-C', staging, 'manifest.json', configName, 'repositories', ...layers.map((layer) => layer.split('/')[0]!)]);
  return out;
}
