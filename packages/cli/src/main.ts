/** The `nsbox` executable: the CLI with the Linux box driver. */
import { LinuxBoxDriver } from '@nsbox/runtime';
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), {
  driver: (stateDir) => new LinuxBoxDriver({ stateDir, ...(process.env.NSBOX_CGROUP_PARENT ? { cgroupParent: process.env.NSBOX_CGROUP_PARENT } : {}) }),
});
