export { boxMetrics } from './box-metrics.js';
export { type HistoryPoint, pointColumns } from './history-point.js';
export { HistoryStore, historyMigrations } from './history-store.js';
export { type OomVictim, parseOomVictims } from './kernel-log.js';
export type { BoxSample, ProcessCensus } from './sample.js';
export { type TrackingSettings, trackingSettingsSchema } from './settings.js';
export { type StatsResult, statsAction } from './stats-action.js';
export type { BoxHistoryView, BoxStatsView, HistoryRow } from './stats-view.js';
export { trackingPlugin } from './tracking-plugin.js';
