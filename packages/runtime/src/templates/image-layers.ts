/**
 * Applies an image's layers in order into one directory: each is listed, its whiteouts
 * applied, its members checked, then extracted (safe-extract.ts). The result is the flattened
 * rootfs that overlayfs would show for the image.
 */

import { NsboxError } from '@nsbox/core';
import type { ImageSource } from './image-source.js';
import { closeArchive, extractScanned, openArchive, scanArchive } from './safe-extract.js';
import type { ProgressSink } from './types.js';

export async function applyLayers(image: ImageSource, target: string, options: { signal?: AbortSignal | undefined; progress: ProgressSink }): Promise<void> {
  const count = image.layers.length;
  for (const [i, layer] of image.layers.entries()) {
    const label = `layer ${i + 1} of ${count}${layer.digest ? ` (${layer.digest.slice(0, 19)})` : ''}`;
    const archive = openArchive(layer.path, `${label} of ${image.label}`);
    if (!archive) {
      throw new NsboxError('E_UNSUPPORTED', `${label} of ${image.label} is not a tar archive nsbox can read (tar, gzip, zstd, xz, bzip2)`, {
        details: { path: layer.path },
      });
    }
    // Half of each layer's share for listing it, half for extracting it.
    const report = (half: number) => (fraction: number) =>
      options.progress({ step: 'layer', percent: Math.floor(((i + (half + fraction) / 2) / count) * 100), message: label });
    try {
      const entries = await scanArchive(archive, { signal: options.signal, onFraction: report(0), ...(layer.digest ? { digest: layer.digest } : {}) });
      await extractScanned(archive, entries, target, { layer: true, signal: options.signal, onFraction: report(1) });
    } finally {
      closeArchive(archive);
    }
  }
}
