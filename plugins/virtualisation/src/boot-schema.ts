/** The boot part of the `virtualisation` section: which init environment the box gets. */

import { z } from '@nsbox/core';

export const bootModes = ['auto', 'systemd', 'plain'] as const;
export type BootMode = (typeof bootModes)[number];

export const bootFields = {
  /**
   * `systemd`: what systemd as PID 1 needs (system-boot.ts); `plain`: nothing added; `auto`
   * (the default): `systemd` when the box's init resolves to systemd in its rootfs, or the box
   * was made from the debian-12 template.
   */
  boot: z.enum(bootModes).optional(),
};
