export * from 'inversify';
export { z } from 'zod';
export {
  type ActionCliShape,
  type ActionContext,
  type ActionDefinition,
  type ActionInfo,
  type ActionTypes,
  type AnyAction,
  defineAction,
  describeAction,
  type InterruptedContext,
  type InterruptedOutcome,
  parseActionInput,
} from './action.js';
export {
  type Box,
  type BoxConfig,
  type BoxState,
  boxNameProblem,
  type CoreBoxConfig,
  isStable,
  type OperationKind,
  operations,
  runtimeWithoutSpec,
  type StableState,
  stableStates,
  transitionalStates,
} from './box.js';
export type { BoxApi, BoxListQuery, CreateBoxRequest, ExecOutput, ExecRequest, FollowLogsOptions, HistoryFilter, SetResult } from './box-api.js';
export { BoxManager, type BoxManagerDeps, type CreateBoxInput } from './box-manager.js';
export { type ConfigIssue, coreConfigSchema, validateBoxConfig } from './config.js';
export {
  type BoxInfoContribution,
  type BoxOptionContribution,
  type BoxStatsContribution,
  type BoxStatsRange,
  boxInfoPoint,
  boxOptionPoint,
  boxStatsPoint,
  type ExitDecision,
  type ExitPolicyContribution,
  type ExitPolicyInput,
  exitPolicyPoint,
  type HostInfoContribution,
  type HostPoolContribution,
  type HostPoolInfo,
  hostInfoPoint,
  hostPoolPoint,
  type MetricSample,
  type MetricsContribution,
  metricsPoint,
  type QuotaClaimContribution,
  quotaClaimPoint,
  type SetOption,
  type SetOptionContribution,
  type SetOutcome,
  setOptionPoint,
  type UploadContribution,
  uploadPoint,
} from './contribution-points.js';
export { coreRefs } from './core-refs.js';
export { type DiscoveredPackage, discoverPlugins, findPluginPackages, loadPluginPackage } from './discovery.js';
export { discoveryCacheFile, findPluginPackagesCached } from './discovery-cache.js';
export { dnsName, dnsNameProblem, UTS_NAME_MAX } from './dns-name.js';
export {
  type CoreErrorCode,
  type ErrorCode,
  type ErrorCodeInfo,
  errorCatalog,
  errorCodeInfo,
  isKnownErrorCode,
  isNsboxError,
  NsboxError,
  type PluginErrorCode,
  registerPluginErrors,
  toNsboxError,
} from './errors.js';
export { type BoxEvent, type BoxEventInput, EventBus, type EventFilter } from './events.js';
export type * from './oci-spec.js';
export { OperationRun, type Step } from './operation.js';
export {
  defineOperationInput,
  type OperationContext,
  type OperationInput,
  type OperationLog,
  type OperationProgress,
  operationContext,
  throwIfCancelled,
} from './operation-context.js';
export {
  type AnyPlugin,
  type ApiRole,
  apiRoles,
  type BoxExitInfo,
  type CommandContribution,
  type CommandInput,
  type Contribution,
  contribute,
  definePlugin,
  type HookContext,
  type HookName,
  type HostService,
  hookNames,
  isPluginDefinition,
  type LifecycleHooks,
  PLUGIN_BRAND,
  type PluginDefinition,
  type PluginEnv,
  type PluginParts,
  type Provision,
  provide,
  type RouteContribution,
  type RouteInput,
  teardownHooks,
} from './plugin.js';
export { enabledPlugins, type LoadedPlugin, PluginHost, type PluginHostOptions, type PluginInfo } from './plugin-host.js';
export { checkPlugins, orderPlugins, reservedSectionNames } from './plugin-order.js';
export type * from './ports.js';
export { isProcessAlive } from './process-alive.js';
export {
  type ContributionPoint,
  createContributionPoint,
  createServiceRef,
  type ResolvedRefs,
  type ServiceRef,
  type ServiceRefs,
  type ServiceSource,
} from './service-ref.js';
export type { InferOutput, StandardIssue, StandardSchemaV1 } from './standard-schema.js';
export {
  coreTenantSafeFields,
  formatFieldPath,
  parseFieldPattern,
  sectionDefaults,
  type TenantGrant,
  type TenantPolicyInput,
  type TenantRefusal,
  type TenantSafeFields,
  type TenantSafeRule,
  tenantPolicyRefusals,
} from './tenant-policy.js';
export { CoreTokens } from './tokens.js';
export { CORE_API_VERSION } from './version.js';
