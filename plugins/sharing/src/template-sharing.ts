/**
 * Shared templates at `provision`: a box made from a template runs on the template's current
 * layer (made once per version by the runtime), read-only under an upper layer of its own.
 */

import { type Box, NsboxError, type OperationContext } from '@nsbox/core';
import type { BoxLayersView, RootfsLayers } from '@nsbox/runtime-api';
import type { SharingConfig, SharingSettings } from './config-schema.js';
import { OWNER } from './owner.js';

type LayerBox = Pick<Box, 'id' | 'name' | 'config' | 'runtime'>;

export class TemplateSharing {
  constructor(
    private readonly layers: RootfsLayers,
    private readonly settings: SharingSettings,
  ) {}

  /** Whether the box is made on a shared layer: a template box (not an admin rootfs) that is shared by its config or the host's default. */
  shares(box: LayerBox, config: SharingConfig | undefined): boolean {
    if (box.config.rootfs !== undefined || box.config.template === undefined) return false;
    return (config?.template ?? this.settings.templates) === 'shared';
  }

  /** A box that asks for a shared template but runs on an admin's rootfs directory: nothing to share. */
  validate(box: LayerBox, config: SharingConfig | undefined): void {
    if (config?.template === 'shared' && box.config.rootfs !== undefined) {
      throw new NsboxError(
        'E_INVALID_CONFIG',
        `sharing.template: box '${box.name}' runs on a rootfs directory of the admin's; only a box made from a template can share it`,
        {
          details: { field: 'sharing.template', box: box.name },
        },
      );
    }
  }

  async provision(box: LayerBox, config: SharingConfig | undefined, operation: OperationContext): Promise<void> {
    if (!this.shares(box, config)) return;
    const layer = await this.layers.templateLayer(box.config.template as string, operation);
    this.layers.use(box, OWNER, [layer]);
  }

  /** The undo of provision (a create that failed later): the driver's undo removed the box's directory already, or will. */
  release(box: LayerBox): void {
    this.layers.release(box);
  }

  describe(box: LayerBox): Record<string, unknown> | undefined {
    const view: BoxLayersView | undefined = this.layers.of(box);
    if (!view) return undefined;
    return {
      layers: view.lowers.map((lower) => ({ template: lower.template, version: lower.version, bytes: lower.bytes })),
      upper: view.upper,
      mounted: view.mounted,
    };
  }
}
