import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { virtualisationConfigSchema } from './config-schema.js';
import { notifyRulesFor, quotaReason } from './notify-rules.js';
import { version } from './version.js';

/** quotactl is always answered while the plugin is on for a box: on a kernel without quotas, refused with its reason. */
const NO_QUOTA = 'its kernel has no quota support';
const quota = [
  { syscall: 'quotactl', handler: 'quotactl', params: { reason: quotaReason(NO_QUOTA) } },
  { syscall: 'quotactl_fd', handler: 'quotactl_fd', params: { reason: quotaReason(NO_QUOTA) } },
];

describe('virtualisation: the config section', () => {
  it('gives a box without a section its own sysinfo and time namespace, and the host kernel strings', () => {
    const config = virtualisationConfigSchema.parse({});
    assert.deepEqual(config, { sysinfo: true, procViews: true, kernelLog: true, quota: true, timeNamespace: true });
    assert.deepEqual(notifyRulesFor(config, { quotaProblem: NO_QUOTA }), [
      { syscall: 'sysinfo', handler: 'sysinfo', params: {} },
      { syscall: 'syslog', handler: 'syslog', params: {} },
      ...quota,
    ]);
  });

  it('answers uname with the release and version given, and nothing when all is off', () => {
    const config = virtualisationConfigSchema.parse({ kernel: { release: '6.1.0-18-amd64', version: '#1 SMP' }, sysinfo: false, kernelLog: false });
    assert.deepEqual(notifyRulesFor(config, { quotaProblem: NO_QUOTA }), [
      { syscall: 'uname', handler: 'uname', params: { release: '6.1.0-18-amd64', version: '#1 SMP' } },
      ...quota,
    ]);
    assert.deepEqual(
      notifyRulesFor(virtualisationConfigSchema.parse({ sysinfo: false, kernelLog: false, timeNamespace: false }), { quotaProblem: NO_QUOTA }),
      quota,
    );
    assert.deepEqual(
      notifyRulesFor(virtualisationConfigSchema.parse({ sysinfo: false, kernelLog: false, quota: false }), { quotaProblem: undefined }),
      [],
      'quota: false leaves quotactl to the profile',
    );
  });

  it("serves quotactl where the kernel has quotas (no reason: the runtime names the box's image), and refuses it, naming why, where it has none", () => {
    const config = virtualisationConfigSchema.parse({ sysinfo: false, kernelLog: false });
    assert.deepEqual(notifyRulesFor(config, { quotaProblem: undefined }), [
      { syscall: 'quotactl', handler: 'quotactl', params: {} },
      { syscall: 'quotactl_fd', handler: 'quotactl_fd', params: {} },
    ]);
    assert.deepEqual(notifyRulesFor(config, { quotaProblem: NO_QUOTA }), quota);
    assert.equal(quotaReason(NO_QUOTA), `quotas inside a box are not served by this host: ${NO_QUOTA}`);
  });

  it('refuses a release that is not one, text that does not fit utsname, and unknown fields, naming them', () => {
    const issues = (value: unknown) => virtualisationConfigSchema.safeParse(value).error?.issues.map((issue) => issue.path.join('.')) ?? [];
    for (const release of ['six', '6', '6.1 0', '-6.1', `6.1.${'0'.repeat(70)}`, '6.1.0;rm'])
      assert.deepEqual(issues({ kernel: { release } }), ['kernel.release'], release);
    assert.deepEqual(issues({ kernel: { release: '6.1.0', version: 'a\nb' } }), ['kernel.version']);
    assert.deepEqual(issues({ kernel: { release: '6.1.0', version: 'x'.repeat(65) } }), ['kernel.version']);
    assert.deepEqual(issues({ kernel: { version: '#1' } }), ['kernel.release']);
    assert.deepEqual(issues({ uptime: 3 }), ['']);
    for (const release of ['6.1.0', '6.1', '6.1.0-18-amd64', '5.15.0+nsbox', '4.19.0-27-cloud-amd64'])
      assert.deepEqual(issues({ kernel: { release } }), [], release);
  });

  it('has the version of its package', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(version, manifest.version);
  });
});
