/** inversify identifiers of the core's services; faces bind the implementations. */
export const CoreTokens = {
  BoxRepository: Symbol.for('nsbox.core.boxRepository'),
  HistoryRepository: Symbol.for('nsbox.core.historyRepository'),
  OperationJournal: Symbol.for('nsbox.core.operationJournal'),
  BoxDriver: Symbol.for('nsbox.core.boxDriver'),
  PluginState: Symbol.for('nsbox.core.pluginState'),
  EventBus: Symbol.for('nsbox.core.eventBus'),
  PluginHost: Symbol.for('nsbox.core.pluginHost'),
  BoxManager: Symbol.for('nsbox.core.boxManager'),
} as const;
