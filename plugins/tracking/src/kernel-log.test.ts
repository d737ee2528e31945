import assert from 'node:assert/strict';
import { isVictimOf, parseOomVictims } from './kernel-log.js';

describe('OOM victims from the kernel log', () => {
  it('pairs the oom-kill line with the Killed line of the same pid', () => {
    const records = [
      '6,100,200,-;dd invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0',
      '6,101,201,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=b1,mems_allowed=0,oom_memcg=/nsbox-test-1/b1d,task_memcg=/nsbox-test-1/b1d,task=dd,pid=4242,uid=100000',
      '3,102,202,-;Memory cgroup out of memory: Killed process 4242 (dd) total-vm:160000kB, anon-rss:49000kB, file-rss:0kB, shmem-rss:0kB, UID:100000 pgtables:400kB oom_score_adj:0',
      '6,103,203,-;eth0: link up',
    ];
    assert.deepEqual(parseOomVictims(records), [{ memcg: '/nsbox-test-1/b1d', command: 'dd', pid: 4242, uid: 100000, anonRssBytes: 49000 * 1024 }]);
  });

  it('keeps a victim whose Killed line is missing, and ignores other lines', () => {
    const records = [
      '6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),oom_memcg=/x/b2,task_memcg=/x/b2/sub,task=my app,pid=7,uid=0',
      '6,2,2,-;hello',
    ];
    assert.deepEqual(parseOomVictims(records), [{ memcg: '/x/b2', command: 'my app', pid: 7, uid: 0 }]);
  });

  it("knows a box's victims by its memory cgroup's directory, a systemd scope's escaped name and sub-cgroups included", () => {
    const id = '1a2b3c4d-0000-4000-8000-000000000001';
    const scopeDir = '/sys/fs/cgroup/nsbox.slice/nsbox-1a2b3c4d\\x2d0000\\x2d4000\\x2d8000\\x2d000000000001.scope';
    const victim = (memcg: string) => ({ pid: 1, command: 'dd', memcg });
    const box = { boxId: id, memoryCgroupDir: scopeDir };
    assert.equal(isVictimOf(victim('/nsbox.slice/nsbox-1a2b3c4d\\x2d0000\\x2d4000\\x2d8000\\x2d000000000001.scope'), box), true);
    assert.equal(isVictimOf(victim('/nsbox.slice/nsbox-1a2b3c4d\\x2d0000\\x2d4000\\x2d8000\\x2d000000000001.scope/init.scope'), box), true);
    // The id as a path component, which the old match looked for, is not in a scope's path:
    assert.equal(victim(scopeDir.slice('/sys/fs/cgroup'.length)).memcg.split('/').includes(id), false);
    assert.equal(isVictimOf(victim('/nsbox.slice/nsbox-other.scope'), box), false);
    assert.equal(isVictimOf(victim('/nsbox.slice'), box), false, "the box's parent is not the box");
    // v1 and cgroupfs: the id is the directory's name.
    assert.equal(isVictimOf(victim(`/nsbox/${id}`), { boxId: id, memoryCgroupDir: `/sys/fs/cgroup/memory/nsbox/${id}` }), true);
    assert.equal(isVictimOf(victim(`/nsbox/${id}`), { boxId: id }), true, 'without a directory, by the id');
  });

  it("reads a systemd scope's path as /dev/kmsg escapes it (its backslash as \\x5c), and knows the box by it", () => {
    // A record as Debian's 6.1 wrote it for a box under the systemd driver (the VM lane).
    const record =
      '6,2301,1319130339,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=box,mems_allowed=0,' +
      'oom_memcg=/nsbox\\x5cx2dtest.slice/nsbox\\x5cx2dtest-6ad8d9ee\\x5cx2d4fbd.scope/box,' +
      'task_memcg=/nsbox\\x5cx2dtest.slice/nsbox\\x5cx2dtest-6ad8d9ee\\x5cx2d4fbd.scope/box,task=dd,pid=5421,uid=1000000';
    const [victim] = parseOomVictims([record]);
    assert.equal(victim?.memcg, '/nsbox\\x2dtest.slice/nsbox\\x2dtest-6ad8d9ee\\x2d4fbd.scope/box');
    const box = { boxId: '6ad8d9ee-4fbd', memoryCgroupDir: '/sys/fs/cgroup/nsbox\\x2dtest.slice/nsbox\\x2dtest-6ad8d9ee\\x2d4fbd.scope' };
    assert.equal(victim && isVictimOf(victim, box), true);
  });
});
