/** The `nsbox` executable: the CLI with the Linux box driver (loaded when a command opens the host). */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), {
  driver: async (stateDir) => {
    const { LinuxBoxDriver } = await import('@nsbox/runtime');
    return new LinuxBoxDriver({ stateDir, ...(process.env.NSBOX_CGROUP_PARENT ? { cgroupParent: process.env.NSBOX_CGROUP_PARENT } : {}) });
  },
});
