/**
 * A box's sample as Prometheus samples, named as cAdvisor and node_exporter name theirs:
 * units in the names (seconds, bytes), counters end in `_total`. Labels: `box` (its stored
 * name; nsboxd's /metrics shows a tenant its own names and adds `tenant`), `device` for IO,
 * `filesystem` (own or shared) for disk.
 */

import type { MetricSample } from '@nsbox/core';
import type { PressureStats } from '@nsbox/runtime-api';
import type { BoxSample } from './sample.js';

export function boxMetrics(sample: BoxSample): MetricSample[] {
  // Samples of the same labels share one object: nsboxd writes each labels object once.
  const labels: Record<string, string> = { box: sample.box };
  const out: MetricSample[] = [];
  const add = (name: string, type: MetricSample['type'], help: string, value: number | undefined, shared: Record<string, string> = labels) => {
    if (value !== undefined && Number.isFinite(value)) out.push({ name, type, help, labels: shared, value });
  };
  const seconds = (usec: number | undefined) => (usec === undefined ? undefined : usec / 1e6);
  const { cpu, memory, pids, io, pressure } = sample.stats;

  add('nsbox_box_cpu_seconds_total', 'counter', 'CPU time the box used, user and system', seconds(cpu.usageUsec));
  add('nsbox_box_cpu_user_seconds_total', 'counter', 'CPU time the box used in user mode', seconds(cpu.userUsec));
  add('nsbox_box_cpu_system_seconds_total', 'counter', 'CPU time the box used in the kernel', seconds(cpu.systemUsec));
  add('nsbox_box_cpu_throttled_periods_total', 'counter', 'CFS periods in which the box was throttled at its CPU quota', cpu.throttledPeriods);
  add('nsbox_box_cpu_throttled_seconds_total', 'counter', 'time the box was throttled at its CPU quota', seconds(cpu.throttledUsec));
  add('nsbox_box_cpu_bursts_total', 'counter', 'CFS periods in which the box burst above its quota', cpu.bursts);

  add('nsbox_box_memory_usage_bytes', 'gauge', 'memory charged to the box', memory.usage);
  add('nsbox_box_memory_anon_bytes', 'gauge', 'anonymous memory of the box (RSS)', memory.anon);
  add('nsbox_box_memory_file_bytes', 'gauge', 'page cache charged to the box', memory.file);
  add('nsbox_box_memory_kernel_bytes', 'gauge', 'kernel memory charged to the box (slabs, stacks, page tables)', memory.kernel);
  add('nsbox_box_memory_sock_bytes', 'gauge', 'socket buffers charged to the box', memory.sock);
  add('nsbox_box_memory_swap_bytes', 'gauge', 'swap used by the box', memory.swapUsage);
  add('nsbox_box_memory_peak_bytes', 'gauge', 'highest memory charged to the box since it started', memory.peak);
  add('nsbox_box_oom_kills_total', 'counter', 'processes of the box killed by the OOM killer', sample.events.oomKills);

  add('nsbox_box_pids', 'gauge', 'tasks in the box (the pids controller count)', pids.current);
  add('nsbox_box_pids_limit_hits_total', 'counter', 'forks refused at the box pids limit', sample.events.pidsMax);
  add('nsbox_box_processes', 'gauge', 'processes in the box', sample.census.processes);
  add('nsbox_box_threads', 'gauge', 'threads in the box', sample.census.threads);
  add('nsbox_box_open_files', 'gauge', 'open file descriptors of every process of the box', sample.census.openFiles);
  add(
    'nsbox_box_seccomp_denials_total',
    'counter',
    "syscalls the box's seccomp filter denied, as the kernel logged them (since the agent started)",
    sample.seccompDenials,
  );

  if (sample.disk) {
    // Whether the figures are the box's own filesystem (a disk limit) or the host's it shares.
    const fs = { ...labels, filesystem: sample.disk.own ? 'own' : 'shared' };
    add('nsbox_box_disk_size_bytes', 'gauge', "bytes the box's root filesystem offers", sample.disk.sizeBytes, fs);
    add('nsbox_box_disk_used_bytes', 'gauge', "bytes used on the box's root filesystem", sample.disk.usedBytes, fs);
    add('nsbox_box_disk_free_bytes', 'gauge', 'bytes still free for the box on its root filesystem', sample.disk.freeBytes, fs);
    add('nsbox_box_disk_inodes', 'gauge', "inodes of the box's root filesystem", sample.disk.inodes ?? undefined, fs);
    add('nsbox_box_disk_inodes_used', 'gauge', "inodes used on the box's root filesystem", sample.disk.inodesUsed ?? undefined, fs);
    add('nsbox_box_disk_inodes_free', 'gauge', "inodes still free on the box's root filesystem", sample.disk.inodesFree ?? undefined, fs);
  }

  for (const device of io) {
    const byDevice = { ...labels, device: device.device };
    add('nsbox_box_io_read_bytes_total', 'counter', 'bytes the box read from block devices', device.readBytes, byDevice);
    add('nsbox_box_io_written_bytes_total', 'counter', 'bytes the box wrote to block devices', device.writeBytes, byDevice);
    add('nsbox_box_io_reads_total', 'counter', 'read operations of the box on block devices', device.reads, byDevice);
    add('nsbox_box_io_writes_total', 'counter', 'write operations of the box on block devices', device.writes, byDevice);
  }

  const stall = (resource: 'cpu' | 'memory' | 'io', stats: PressureStats | undefined) => {
    if (!stats) return;
    add(
      `nsbox_box_pressure_${resource}_waiting_seconds_total`,
      'counter',
      `time some task of the box waited for ${resource} (PSI some)`,
      seconds(stats.some.totalUsec),
    );
    if (stats.full) {
      add(
        `nsbox_box_pressure_${resource}_stalled_seconds_total`,
        'counter',
        `time every task of the box stalled on ${resource} (PSI full)`,
        seconds(stats.full.totalUsec),
      );
    }
  };
  stall('cpu', pressure?.cpu);
  stall('memory', pressure?.memory);
  stall('io', pressure?.io);
  return out;
}
