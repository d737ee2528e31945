// mocha's spec reporter (what `npm test` prints), which also writes the run's figures and the
// full title of every skipped and failed test to $NSBOX_VM_REPORT: the host judges the skips
// against vm/expected-skips.json.
const { writeFileSync } = require('node:fs');
const Mocha = require('mocha');

class VmReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const pending = [];
    const failed = [];
    runner.on('pending', (test) => pending.push(test.fullTitle()));
    runner.on('fail', (test) => failed.push(test.fullTitle()));
    runner.once('end', () => {
      const { passes, failures, pending: skipped, duration } = this.stats;
      if (!process.env.NSBOX_VM_REPORT) return;
      writeFileSync(
        process.env.NSBOX_VM_REPORT,
        JSON.stringify({ passes, failures, pending: skipped, duration, skippedTitles: pending, failedTitles: failed }),
      );
    });
  }
}

module.exports = VmReporter;
