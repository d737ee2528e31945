export { BiasController } from './bias-controller.js';
export {
  type CpuShare,
  cpuShareSchema,
  type IoBurst,
  ioBurstSchema,
  type SharingConfig,
  type SharingSettings,
  sharingConfigSchema,
  sharingSettingsSchema,
  type TemplateMode,
} from './config-schema.js';
export { dedupeAction } from './dedupe-action.js';
export { advanceIo, freshIoBurst, type IoBurstState, ioThrottle } from './io-burst.js';
export { type IoBurstChange, IoBurstController } from './io-burst-controller.js';
export { OWNER } from './owner.js';
export { rebaseAction } from './rebase-action.js';
export { shareSetAction } from './share-actions.js';
export { recordResources, type ShareRecord, ShareRegistry } from './share-registry.js';
export { ShareService } from './share-service.js';
export { shareResources } from './shares.js';
export { sharingPlugin } from './sharing-plugin.js';
export { pruneAction, refreshAction, templateActions, templatesAction } from './template-actions.js';
export { TemplateSharing } from './template-sharing.js';
export { advance, type BucketState, biasedWeight, bucketSize, freshBucket, type Level, step } from './token-bucket.js';
