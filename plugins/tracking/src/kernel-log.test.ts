import assert from 'node:assert/strict';
import { parseOomVictims } from './kernel-log.js';

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
});
