export { type LimitsActions, limitsActions } from './actions/index.js';
export type { CgroupCounters, CgroupUsage, EffectiveLimits } from './cgroup-limits.js';
export { type IoLimit, type LimitsConfig, limitsConfigSchema } from './config-schema.js';
export type { PoolInfo } from './disk/pools.js';
export type { DiskRecord, StorageBackend } from './disk/storage-backend.js';
export { limitsPlugin } from './limits-plugin.js';
export type { LimitsReport, LimitsService } from './limits-service.js';
export { limitsQuotaClaims } from './quota-claims.js';
export { LimitsTokens, limitsRefs } from './tokens.js';
