// Under TCG (a host without hardware KVM) the guest runs tens of times slower than the
// machines the suites' timeouts were chosen for: every mocha timeout is read multiplied by
// $NSBOX_VM_SLOWDOWN (1 under KVM). Patched on the getter, so a timeout set on a suite and
// copied into its tests is scaled once.
const Mocha = require('mocha');

const factor = Number(process.env.NSBOX_VM_SLOWDOWN ?? '1');
const MAX_TIMEOUT = 2 ** 31 - 1;

if (factor > 1) {
  const timeout = Mocha.Runnable.prototype.timeout;
  Mocha.Runnable.prototype.timeout = function (...args) {
    if (args.length > 0) return timeout.apply(this, args);
    const ms = timeout.call(this);
    return ms === 0 ? 0 : Math.min(ms * factor, MAX_TIMEOUT);
  };
}
