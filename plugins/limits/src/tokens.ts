/** inversify identifiers of what the limits plugin publishes. */
export const LimitsTokens = {
  /** LimitsService: checks, live changes, reports (published as 'limits'; contributes the box-info section). */
  Service: Symbol.for('nsbox.limits.service'),
  /** Pools: where box disk images live. */
  Pools: Symbol.for('nsbox.limits.pools'),
  /** LimitsHostSettings: the admin's `settings.limits` from the host config. */
  HostSettings: Symbol.for('nsbox.limits.hostSettings'),
} as const;
