/**
 * The Linux box driver as nsboxd uses it: the template work of a box being created reports
 * to that box's operation and stops when the operation is cancelled. The core calls
 * driver.create(box) without either, so the daemon registers them by box name first.
 */

import type { Box } from '@nsbox/core';
import { LinuxBoxDriver, type TemplateProgress } from '@nsbox/runtime';

export interface CreateWork {
  onProgress?: (progress: TemplateProgress) => void;
  signal?: AbortSignal;
}

export class DaemonBoxDriver extends LinuxBoxDriver {
  private readonly work = new Map<string, CreateWork>();

  /** Routes the template work of box `name` to `work` until the returned function is called. */
  track(name: string, work: CreateWork): () => void {
    this.work.set(name, work);
    return () => {
      if (this.work.get(name) === work) this.work.delete(name);
    };
  }

  override create(box: Box, options: CreateWork = {}): Promise<Record<string, unknown>> {
    return super.create(box, { ...this.work.get(box.name), ...options });
  }
}
