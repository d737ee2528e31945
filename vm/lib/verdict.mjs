// Whether the guest's run passed: it finished, mocha failed nothing, and every skipped test is
// one vm/expected-skips.json explains (a suite for a cgroup layout the guest does not have).

import { readFileSync } from 'node:fs';

export function loadExpectedSkips(path) {
  return JSON.parse(readFileSync(path, 'utf8')).map((entry) => ({ ...entry, pattern: new RegExp(entry.title) }));
}

export function judge({ exitStatus, report }, expectedSkips) {
  const problems = [];
  if (exitStatus === undefined) problems.push('the guest did not finish the run (no NSBOX-VM-EXIT line): it crashed, hung or timed out');
  else if (exitStatus !== 0) problems.push(`the guest's run exited with ${exitStatus}`);
  if (exitStatus !== undefined && report === undefined) problems.push('the guest wrote no report (mocha did not get to its end)');
  const unexpected = (report?.skippedTitles ?? []).filter((title) => !expectedSkips.some((entry) => entry.pattern.test(title)));
  for (const title of unexpected) problems.push(`skipped, and not in vm/expected-skips.json: ${title}`);
  for (const title of report?.failedTitles ?? []) problems.push(`failed: ${title}`);
  return problems;
}
