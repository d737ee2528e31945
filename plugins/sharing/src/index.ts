export { type SharingConfig, type SharingSettings, sharingConfigSchema, sharingSettingsSchema, type TemplateMode } from './config-schema.js';
export { sharingPlugin } from './sharing-plugin.js';
export { pruneAction, refreshAction, sharingActions, templatesAction } from './template-actions.js';
export { OWNER, TemplateSharing } from './template-sharing.js';
