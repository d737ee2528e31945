export { ARCHIVE_SUFFIXES } from './archive-format.js';
export { builtinTemplates, listTemplates } from './builtins.js';
export { BUSYBOX, type BusyboxRootfsOptions, buildBusyboxRootfs, busyboxAvailable, chownTree } from './busybox-rootfs.js';
export { buildDebianRootfs, DEBIAN_MIRROR, type DebianBuildOptions, ensureDebootstrap } from './debian.js';
export { materializeTemplate } from './materialize.js';
export type { ImageConfig, MaterializedTemplate, MaterializeOptions, TemplateKind, TemplateProgress } from './types.js';
