/** inversify identifiers of what the limits plugin publishes. */
export const LimitsTokens = {
  /** LimitsService: checks, live changes, reports (published as 'limits' and 'boxInfo'). */
  Service: Symbol.for('nsbox.limits.service'),
  /** Pools: where box disk images live. */
  Pools: Symbol.for('nsbox.limits.pools'),
} as const;
