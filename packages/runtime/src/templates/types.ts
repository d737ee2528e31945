/**
 * The shapes shared by every template source. Progress steps form a small fixed vocabulary
 * so that faces can render them without knowing which source produced them.
 */

/**
 * `step` is one of:
 * - `install`  installing a missing host tool (debootstrap)
 * - `build`    building a built-in into the cache (percent when the builder knows it)
 * - `copy`     copying a cached built-in or a directory template into the box
 * - `check`    reading an archive's member list before extracting it
 * - `extract`  extracting a rootfs tarball (percent of the archive read)
 * - `unpack`   unpacking a save archive into a private staging directory
 * - `layer`    applying one image layer (message says which; percent over all layers)
 * - `done`     the rootfs is complete
 */
export interface TemplateProgress {
  step: string;
  percent?: number;
  message?: string;
}

export interface MaterializeOptions {
  /** Where built templates are cached: <state-dir>/templates. A built-in is built once into <cacheDir>/<name> (a directory) and copied (cp -a --reflink=auto) into each new box. */
  cacheDir: string;
  onProgress?: (progress: TemplateProgress) => void;
  /** Cancels a long build (debootstrap); leaves nothing half-built in the cache. */
  signal?: AbortSignal;
}

/** The parts of an OCI image config that decide how the box's first process runs. */
export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

export type TemplateKind = 'builtin' | 'directory' | 'tarball' | 'oci-layout' | 'docker-archive' | 'oci-archive';

export interface MaterializedTemplate {
  template: string;
  kind: TemplateKind;
  rootfs: string;
  /** from the image config when there is one */
  config?: ImageConfig;
}

export type ProgressSink = (progress: TemplateProgress) => void;
