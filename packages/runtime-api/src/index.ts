export { type BoxFilesService, boxRoot, type RuntimeFacts, runtimeFacts } from './box-files.js';
export type { BoxCgroup, CgroupDriver, CgroupLayout, CgroupLayoutKind, KillOptions } from './cgroups.js';
export {
  type CheckpointEngine,
  type CheckpointEngines,
  type CheckpointRequest,
  type RestoreLauncher,
  type RestoreNeeds,
  type RestoreRequest,
  rootfsArchiveInput,
} from './checkpoint.js';
export { formatCpuList, parseCpuList } from './cpu-list.js';
export { type FilesystemSpace, filesystemSpace } from './filesystem-space.js';
export { kernelQuotaProblem } from './kernel-quota.js';
export { contributeLaunch, LAUNCH_ANNOTATION, type LaunchContributions, launchContributions } from './launch.js';
export {
  checkNotifyRule,
  contributeNotify,
  type NotifyHandlerName,
  type NotifyHandlers,
  type NotifyRule,
  type NotifyService,
  type NotifyUpdate,
  notifyHandlerSyscalls,
  notifyRules,
  type OwnedNotifyRule,
} from './notify.js';
export { allCapabilities, defaultCapabilities, defaultMaskedPaths, defaultReadonlyPaths } from './policy-lists.js';
export { contributeProcViews, type ProcViewFile, type ProcViews, procViewFiles, procViews } from './proc-views.js';
export { runtimeRefs } from './refs.js';
export type {
  ApplyOptions,
  ApplyResult,
  BoxResources,
  CgroupManager,
  DesiredResources,
  IoThrottle,
  KnobOwnership,
  KnobWrite,
  PressureStats,
  ResourceBox,
  ResourceDeclaration,
  ResourceEvents,
  ResourceProblem,
  ResourceStats,
} from './resources.js';
export {
  type BoxLayers,
  type BoxLayersView,
  type DedupeOptions,
  type DedupeReport,
  OWN_UPPER,
  OWN_WORK,
  type RebasePlan,
  type RootfsLayers,
  type TemplateLayer,
} from './rootfs-layers.js';
export { allowWhere, exactly, INT_BITS, type MaskedValue, masked, maskedComplement, seccompPermits } from './seccomp-rules.js';
export type { UtsNames, UtsService } from './uts.js';
