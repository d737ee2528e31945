/**
 * How many times slower than a host this machine runs. The VM lane's guest under TCG (no
 * hardware KVM) says so in NSBOX_VM_SLOWDOWN; everywhere else it is 1. Suites multiply their
 * sanity bounds on elapsed time by it, so an emulated guest does not fail them for being slow.
 */
export function slowdown(): number {
  const factor = Number(process.env.NSBOX_VM_SLOWDOWN ?? '1');
  return Number.isInteger(factor) && factor > 1 ? factor : 1;
}
