/**
 * Typed service references and contribution points (after Backstage's `createServiceRef` and
 * Theia's `ContributionProvider`). A ref carries the type of what it names, so a plugin that
 * declares `deps: { cgroups: cgroupManagerRef }` gets a `CgroupManager` — nothing is looked up
 * by a string or re-declared by shape.
 *
 * The inversify identifier is a `Symbol.for` of the ref's id so that two copies of the package
 * that declares a ref (a third-party plugin's own node_modules) still meet; only this file
 * makes such symbols.
 */

import type { ServiceIdentifier } from 'inversify';

declare const refType: unique symbol;

export interface ServiceRef<T> {
  /** Stable, namespaced: `runtime.cgroups`, `limits.pools`. */
  readonly id: string;
  /** The inversify identifier the service is bound to. */
  readonly token: ServiceIdentifier<T>;
  /** Phantom: the type the ref names (never set at run time). */
  readonly [refType]?: T;
}

export function createServiceRef<T>(options: { id: string }): ServiceRef<T> {
  return Object.freeze({ id: options.id, token: Symbol.for(`nsbox.ref:${options.id}`) as ServiceIdentifier<T> });
}

/**
 * A contribution point: an interface many plugins implement and a face (or another plugin)
 * asks for all at once. Core defines box info, quota claims, host pools and metrics; plugins
 * may define their own for other plugins.
 */
export interface ContributionPoint<T> {
  readonly id: string;
  readonly token: ServiceIdentifier<T>;
  readonly [refType]?: T;
}

export function createContributionPoint<T>(options: { id: string }): ContributionPoint<T> {
  return Object.freeze({ id: options.id, token: Symbol.for(`nsbox.point:${options.id}`) as ServiceIdentifier<T> });
}

/** A map of refs → the map of the services they name. */
export type ServiceRefs = Record<string, ServiceRef<unknown>>;
export type ResolvedRefs<TDeps extends ServiceRefs> = {
  [K in keyof TDeps]: TDeps[K] extends ServiceRef<infer T> ? T : never;
};

/** Anything services can be asked of: the plugin host, a test container. */
export interface ServiceSource {
  get<T>(ref: ServiceRef<T>): T;
  getOptional<T>(ref: ServiceRef<T>): T | undefined;
  contributions<T>(point: ContributionPoint<T>): T[];
}
