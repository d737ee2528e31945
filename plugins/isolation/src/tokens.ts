/** inversify identifiers of what this plugin binds and publishes. */
export const IsolationTokens = {
  /** UidAllocator: each box's host uid/gid range (published as `isolation.uidAllocator`). */
  UidAllocator: Symbol.for('nsbox.isolation.uidAllocator'),
  /** IdPoolFiles: where the subordinate id pools are read from (/etc/subuid, /etc/subgid). */
  PoolFiles: Symbol.for('nsbox.isolation.poolFiles'),
  /** IsolationInfo: the box's section of `nsbox info` (contributed to the box-info point). */
  BoxInfo: Symbol.for('nsbox.isolation.boxInfo'),
  /** IsolationHostSettings: the admin's `settings.isolation` from the host config. */
  HostSettings: Symbol.for('nsbox.isolation.hostSettings'),
} as const;
