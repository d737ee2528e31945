export { BiasController, type BiasRecord, BiasRegistry } from './bias-controller.js';
export {
  type CpuShare,
  cpuShareSchema,
  type SharingConfig,
  type SharingSettings,
  sharingConfigSchema,
  sharingSettingsSchema,
  type TemplateMode,
} from './config-schema.js';
export { OWNER } from './owner.js';
export { rebaseAction } from './rebase-action.js';
export { shareSetAction } from './share-actions.js';
export { ShareService } from './share-service.js';
export { shareResources } from './shares.js';
export { sharingPlugin } from './sharing-plugin.js';
export { pruneAction, refreshAction, templateActions, templatesAction } from './template-actions.js';
export { TemplateSharing } from './template-sharing.js';
export { advance, type BucketState, biasedWeight, bucketSize, freshBucket } from './token-bucket.js';
