/** inversify identifiers of what the runtime publishes for plugins. */
export const RuntimeTokens = {
  /** CgroupDriver: the box cgroups on this host's layout (v1, v2, hybrid). */
  CgroupDriver: Symbol.for('nsbox.runtime.cgroupDriver'),
  /** LinuxBoxDriver: box files, exec, logs. */
  LinuxBoxDriver: Symbol.for('nsbox.runtime.linuxBoxDriver'),
} as const;
