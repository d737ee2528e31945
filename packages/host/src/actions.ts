/**
 * Finding and running a plugin's action: one path for every face. The caller's view of the
 * host comes in as `scope` (the CLI in local mode is the host admin; nsboxd passes the
 * token's tenant and a BoxApi that applies its policy and quotas).
 */

import {
  type ActionInfo,
  type AnyAction,
  type Box,
  type BoxApi,
  describeAction,
  type InterruptedOutcome,
  type LoadedPlugin,
  NsboxError,
  type OperationContext,
  operationContext,
  type PluginHost,
  parseActionInput,
  type ServiceSource,
} from '@nsbox/core';

export interface FoundAction {
  plugin: LoadedPlugin;
  action: AnyAction;
}

export interface ActionScope {
  api: BoxApi;
  tenant: string | null;
  /** A box the caller may see, brought in line with its processes (E_NOT_FOUND otherwise). */
  box(idOrName: string): Promise<Box>;
  services: ServiceSource;
  operation?: OperationContext;
}

/** Every action of every enabled plugin, with its plugin. */
export function allActions(plugins: PluginHost): FoundAction[] {
  return plugins.plugins.flatMap((plugin) => (plugin.definition.actions ?? []).map((action) => ({ plugin, action })));
}

export function actionInfos(plugins: PluginHost): ActionInfo[] {
  return allActions(plugins).map(({ plugin, action }) => describeAction(plugin.definition.name, action));
}

export function findAction(plugins: PluginHost, plugin: string, action: string): FoundAction {
  const found = allActions(plugins).find((candidate) => candidate.plugin.definition.name === plugin && candidate.action.name === action);
  if (!found) {
    throw new NsboxError('E_NOT_FOUND', `no action '${action}' in plugin '${plugin}'`, { details: { plugin, action, field: 'action' } });
  }
  return found;
}

/** Validates the input, finds the box a box action is about, and runs the action. */
export async function invokeAction({ plugin, action }: FoundAction, input: unknown, scope: ActionScope): Promise<unknown> {
  const name = plugin.definition.name;
  const parsed = await parseActionInput(name, action, input);
  let box: Box | undefined;
  if (action.box) {
    const ref = (parsed as { box?: unknown } | undefined)?.box;
    if (typeof ref !== 'string' || ref === '') {
      throw new NsboxError('E_INVALID_ARGUMENT', `action ${name} ${action.name} needs the box it is about`, {
        details: { plugin: name, action: action.name, field: 'box' },
      });
    }
    box = await scope.box(ref);
  }
  return action.run(parsed, {
    ...(box ? { box } : {}),
    tenant: scope.tenant,
    api: scope.api,
    services: scope.services,
    own: (id) => plugin.container.get(id),
    operation: scope.operation ?? operationContext(),
  });
}

/**
 * What became of an operation action whose process died (nsboxd's restart asks, for an
 * operation of kind `action.<plugin>.<action>`): its plugin's word, or undefined when the
 * action has none (or is not here any more).
 */
export async function interruptedAction(plugins: PluginHost, plugin: string, action: string, boxes: string[]): Promise<InterruptedOutcome | undefined> {
  const found = allActions(plugins).find((candidate) => candidate.plugin.definition.name === plugin && candidate.action.name === action);
  if (!found?.action.interrupted) return undefined;
  return found.action.interrupted({ boxes, services: plugins, own: (id) => found.plugin.container.get(id) });
}
