/**
 * Rootfs layers: a box's root as an overlay of read-only template layers under an upper
 * layer of its own (Linux-VServer's unification, done with overlayfs). A plugin asks for it
 * in its `provision` hook, which runs before the driver makes the box's rootfs: the driver
 * then makes no copy, only the box's own (empty) upper and work directories.
 *
 * The runtime keeps the layers and the box's record:
 * - a template layer is made once per template *version* in the runtime's layer store, never
 *   written again; `refresh` makes a new version, which new boxes get; a box keeps the
 *   version it was made from;
 * - the box's own files live in its root directory (`RuntimeFacts.rootfs`) as two hidden
 *   directories (`OWN_UPPER`, `OWN_WORK`): whatever moves a box's root elsewhere (limits'
 *   disk image, which copies the root directory into an image and points the spec's root
 *   there) moves the upper with it, and the overlay is mounted *on* the spec's root path, over
 *   them, so the upper lives on the box's disk and `df /` in the box shows it;
 * - the overlay is mounted at start (before the `configure` moment) and taken down at stop;
 *   a user-namespaced box's idmapped rootfs is the idmapped overlay (the layers stay owned by
 *   host uid 0 on disk, as a copied rootfs does);
 * - destroy takes down the overlay and removes the box's directory only (never crossing a
 *   mount): template layers stay for the other boxes.
 */

import type { Box, OperationContext } from '@nsbox/core';

/** The box's upper layer and overlay work directory, inside its root directory (hidden by the overlay mounted over it). */
export const OWN_UPPER = '.nsbox-upper';
export const OWN_WORK = '.nsbox-work';

/** One read-only layer: a template at one version. */
export interface TemplateLayer {
  /** The template as boxes name it ('debian-12', '/srv/templates/web'). */
  template: string;
  /** The version, in the order made ('20261207T081234Z-3f9a'); later versions sort after earlier ones. */
  version: string;
  /** The layer's directory on the host (owned by the runtime, never written once made). */
  dir: string;
  /** When the version was made (ms since the epoch). */
  madeAt: number;
  /** Its bytes on disk, counted once when it was made. */
  bytes: number;
}

/** What a layered box's root is made of. */
export interface BoxLayers {
  /** The plugin that asked for it. */
  owner: string;
  /** The read-only layers, the topmost first. */
  lowers: TemplateLayer[];
  /**
   * The box's own files `dedupe` moved out of its upper: a read-only layer of its own, above
   * `lowers`, whose files are hard links into the host's merged store (one inode, its blocks
   * and page cache, for every box that had the same file). A write copies the file up again.
   */
  merged?: string;
}

export interface DedupeOptions {
  /** Only say what would be merged and the bytes it would save; change nothing. */
  dryRun?: boolean;
  /** Files smaller than this are left alone (default 4096: a block saves nothing below it). */
  minBytes?: number;
}

/** What a dedupe did (or, dry, would do). */
export interface DedupeReport {
  dryRun: boolean;
  /** Files moved out of uppers into the merged store (each box's copy counts once). */
  files: number;
  /** Disk bytes freed: the blocks of the copies that went, less the one copy kept. */
  bytesSaved: number;
  /** Per box: files merged, or why it was left alone (running, upper in its disk image, busy...). */
  boxes: { id: string; name: string; files: number; skipped?: string }[];
}

/** Where a box's layers are now, for `nsbox info`. */
export interface BoxLayersView extends BoxLayers {
  /** The directory that holds the box's own files (the upper layer), and whether the overlay is mounted now. */
  upper: string;
  mounted: boolean;
}

/** What moving a box onto other layers changes: the paths its upper holds where the layers differ (the box's version wins there). */
export interface RebasePlan {
  from: TemplateLayer[];
  to: TemplateLayer[];
  conflicts: string[];
  /** The box is on `to` now (false for a dry run). */
  applied: boolean;
}

export interface RootfsLayers {
  /**
   * The current version of `template` as a layer, made from the template (built into the
   * template cache first when it is a built-in) the first time it is asked for. Boxes of
   * this host made with it from now on share it. Fails like a create from that template.
   */
  templateLayer(template: string, context?: OperationContext): Promise<TemplateLayer>;
  /**
   * Makes a new version of `template` from what it is now (a built-in: its cache; a directory
   * or archive: its contents). New boxes get it; existing boxes keep theirs.
   */
  refresh(template: string, context?: OperationContext): Promise<TemplateLayer>;
  /** Every version of every template in the layer store, each with the ids of the boxes on it. */
  versions(): (TemplateLayer & { boxes: string[]; current: boolean })[];
  /** Removes versions no box uses and that are not current; returns what went. */
  prune(): TemplateLayer[];
  /**
   * At `provision`: the box's root becomes an overlay of `lowers` (topmost first) under its
   * own upper layer. Only before the driver made the rootfs (a create), for a box whose rootfs
   * nsbox makes (no admin `rootfs` directory); E_INVALID_STATE otherwise.
   */
  use(box: Pick<Box, 'id' | 'name' | 'config'>, owner: string, lowers: TemplateLayer[]): BoxLayers;
  /**
   * Moves a stopped box onto `lowers` (a newer template version), keeping its own upper: where
   * the box changed a path that also changed between the layers, the box's version stays
   * (listed in `conflicts`). `dryRun`: only the plan. E_INVALID_STATE for a running box or one
   * without layers; E_UNSUPPORTED when its upper is in a disk image that is not mounted.
   */
  rebase(box: Pick<Box, 'id' | 'name' | 'state' | 'runtime'>, lowers: TemplateLayer[], options?: { dryRun?: boolean }): RebasePlan;
  /**
   * `nsbox dedupe`: identical files in the uppers of stopped layered boxes (same bytes, mode,
   * owner as the box sees it, and mtime; no extended attributes, not set-id) are moved into
   * one inode of the host's merged store, each box keeping a read-only link in its `merged`
   * layer. Each box is locked while it is done (a start meanwhile fails E_BUSY); running boxes,
   * boxes whose upper is in a disk image (a filesystem of its own) or on another filesystem
   * are left alone, with the reason.
   */
  dedupe(boxes: Pick<Box, 'id' | 'name' | 'state' | 'runtime'>[], options?: DedupeOptions): DedupeReport;
  /** Forgets the box's layers (the undo of `use` in a create that failed). */
  release(box: Pick<Box, 'id'>): void;
  /** The box's layers (undefined: its root is a plain directory). */
  of(box: Pick<Box, 'id' | 'runtime'>): BoxLayersView | undefined;
}
