import assert from 'node:assert/strict';
import { projectQuotaMountProblem } from './project-quota-backend.js';
import { parseMountInfo } from './system.js';

/** mountinfo lines as the kernel writes them (proc(5)): XFS shows how it runs project quotas. */
const mountinfo = [
  '36 25 259:1 / /srv/enforced rw,relatime shared:1 - xfs /dev/vdb rw,attr2,inode64,logbufs=8,logbsize=32k,prjquota',
  '37 25 259:2 / /srv/accounted rw,relatime shared:2 - xfs /dev/vdc rw,attr2,inode64,logbufs=8,logbsize=32k,pqnoenforce',
  '38 25 259:3 / /srv/plain rw,relatime shared:3 - xfs /dev/vdd rw,attr2,inode64,logbufs=8,logbsize=32k,noquota',
  '39 25 7:3 / /srv/ext\\040four rw,relatime shared:4 - ext4 /dev/loop3 rw,prjquota',
  '40 25 7:4 / /srv/ext4-none rw,relatime shared:5 - ext4 /dev/loop4 rw',
  '41 25 0:40 / /srv/tmp rw,relatime shared:6 - tmpfs tmpfs rw,size=1024k',
].join('\n');

describe('limits: when project quotas limit a box', () => {
  const byMountPoint = new Map(parseMountInfo(mountinfo).map((entry) => [entry.mountPoint, entry]));
  const problem = (mountPoint: string) => {
    const mount = byMountPoint.get(mountPoint);
    assert.ok(mount, `${mountPoint} is parsed`);
    return projectQuotaMountProblem(mount, `${mountPoint}/box`);
  };

  it('reads mount points, filesystem types and both sets of options from mountinfo', () => {
    const ext4 = byMountPoint.get('/srv/ext four');
    assert.deepEqual(ext4, { mountPoint: '/srv/ext four', fsType: 'ext4', source: '/dev/loop3', options: ['rw', 'relatime', 'rw', 'prjquota'] });
  });

  it('counts XFS prjquota and ext4 prjquota as enforcing', () => {
    assert.equal(problem('/srv/enforced'), undefined);
    assert.equal(problem('/srv/ext four'), undefined);
  });

  it('does not count XFS pqnoenforce: usage is accounted, no limit is applied', () => {
    assert.equal(
      problem('/srv/accounted'),
      '/srv/accounted (xfs) is mounted with pqnoenforce: project usage is only accounted, not enforced (mount it with prjquota)',
    );
  });

  it('refuses mounts without project quotas, and other filesystems', () => {
    assert.equal(problem('/srv/plain'), '/srv/plain (xfs) is not mounted with project quotas (prjquota)');
    assert.equal(problem('/srv/ext4-none'), '/srv/ext4-none (ext4) is not mounted with project quotas (prjquota)');
    assert.equal(problem('/srv/tmp'), 'project quotas need XFS or ext4; /srv/tmp/box is on tmpfs');
  });
});
