/**
 * Disk limits as project quotas (XFS, or ext4 with the project feature), on the filesystem
 * that already holds the box's root: one project id per box, set with PROJINHERIT on the
 * root directory so every file the box makes is counted (and the box, lacking
 * CAP_SYS_RESOURCE and CAP_FOWNER over the host's view, cannot take it off). `df /` in the
 * box reports the project's limit, as XFS and ext4 do for a directory tree with a project.
 *
 * Chosen when the filesystem is mounted with project quotas (prjquota / pquota) and
 * xfs_quota is installed; needs no image, grows and shrinks live.
 */

import { NsboxError, type PluginStateStore } from '@nsbox/core';
import { formatSize } from '../units.js';
import type { BoxDiskContext, DiskProblem, DiskRecord, DiskRequest, ProjectRecord, StorageBackend } from './storage-backend.js';
import { type MountEntry, mountOf, run, type SpaceFigures, space, which } from './system.js';

const NAMESPACE = 'limits.projects';
/** Project ids nsbox hands out; below are the admin's (/etc/projid). */
const FIRST_PROJECT_ID = 0x6e5b_0000;

/**
 * Mount options under which the kernel enforces project quotas, as /proc/self/mountinfo
 * shows them. XFS shows `prjquota` when it enforces and `pqnoenforce` when it only
 * accounts (usage counted, limits never applied): that is no limit, so it does not count.
 */
const enforcing: Record<string, string[]> = {
  xfs: ['prjquota', 'pquota'],
  ext4: ['prjquota'],
};

/** Why project quotas cannot limit a box on this mount; undefined when the kernel enforces them there. */
export function projectQuotaMountProblem(mount: Pick<MountEntry, 'mountPoint' | 'fsType' | 'options'>, path: string): string | undefined {
  const options = enforcing[mount.fsType];
  if (!options) return `project quotas need XFS or ext4; ${path} is on ${mount.fsType}`;
  if (mount.options.some((option) => options.includes(option))) return undefined;
  if (mount.options.includes('pqnoenforce')) {
    return `${mount.mountPoint} (${mount.fsType}) is mounted with pqnoenforce: project usage is only accounted, not enforced (mount it with prjquota)`;
  }
  return `${mount.mountPoint} (${mount.fsType}) is not mounted with project quotas (${options[0]})`;
}

export class ProjectQuotaBackend implements StorageBackend {
  readonly name = 'project' as const;

  constructor(private readonly state: PluginStateStore) {}

  unavailable(context: BoxDiskContext): string | undefined {
    const mount = mountOf(context.seed);
    if (!mount) return `cannot find the filesystem that holds ${context.seed}`;
    const problem = projectQuotaMountProblem(mount, context.seed);
    if (problem) return problem;
    if (!which('xfs_quota')) return 'xfs_quota is not installed (Debian package xfsprogs)';
    return undefined;
  }

  rootPath(context: BoxDiskContext): string {
    return context.seed;
  }

  check(context: BoxDiskContext, record: DiskRecord | undefined, request: DiskRequest | undefined): DiskProblem[] {
    if (!request || record?.backend !== 'project') return [];
    const usage = this.usage(context, record);
    const problems: DiskProblem[] = [];
    if (usage && request.limit < usage.used) {
      problems.push({
        kind: 'invalid',
        message: `disk ${formatSize(request.limit)} is below what box '${context.box.name}' already uses (${formatSize(usage.used)})`,
      });
    }
    if (usage?.inodesUsed != null && request.inodes !== undefined && request.inodes < usage.inodesUsed) {
      problems.push({ kind: 'invalid', message: `inodes ${request.inodes} is below what box '${context.box.name}' already uses (${usage.inodesUsed})` });
    }
    return problems;
  }

  prepare(context: BoxDiskContext, record: DiskRecord | undefined, request: DiskRequest): ProjectRecord {
    const mount = mountOf(context.seed);
    if (!mount) throw new NsboxError('E_RUNTIME', `cannot find the filesystem that holds ${context.seed}`);
    const projectId = record?.backend === 'project' ? record.projectId : this.allocate(context.box.id);
    const project: ProjectRecord = {
      backend: 'project',
      projectId,
      path: context.seed,
      mountPoint: mount.mountPoint,
      fsType: mount.fsType,
      limit: request.limit,
      ...(request.inodes !== undefined ? { inodes: request.inodes } : {}),
    };
    this.setProject(project, projectId);
    this.setLimit(project);
    return project;
  }

  resizeLive(_context: BoxDiskContext, record: DiskRecord, request: DiskRequest): ProjectRecord {
    const project = { ...(record as ProjectRecord), limit: request.limit };
    delete project.inodes;
    if (request.inodes !== undefined) project.inodes = request.inodes;
    this.setLimit(project);
    return project;
  }

  usage(_context: BoxDiskContext, record: DiskRecord): SpaceFigures | undefined {
    try {
      return space((record as ProjectRecord).path);
    } catch {
      return undefined;
    }
  }

  release(): void {
    // A quota stays with the files: nothing to take down when the box stops.
  }

  remove(_context: BoxDiskContext, record: DiskRecord): void {
    const project = record as ProjectRecord;
    this.quota(project, [`limit -p bhard=0 ihard=0 ${project.projectId}`]);
    this.setProject(project, 0);
    this.state.delete(NAMESPACE, String(project.projectId));
  }

  private setLimit(project: ProjectRecord): void {
    this.quota(project, [`limit -p bhard=${project.limit} ihard=${project.inodes ?? 0} ${project.projectId}`]);
  }

  /**
   * Gives every file and directory of the tree the project id (0: none), and directories
   * PROJINHERIT so what the box makes later is counted too. XFS: xfs_quota's `project -s`
   * (`-C` for 0). ext4: xfsprogs 6.1's `project -s` also sets PROJINHERIT on regular files,
   * which ext4 refuses (EOPNOTSUPP), leaving every existing file outside the project: chattr
   * sets the id (-p) and the inherit flag (+P, directories only) instead. find neither follows
   * symlinks nor leaves the filesystem (-xdev), and hands chattr files and directories only.
   */
  private setProject(project: ProjectRecord, id: number): void {
    if (project.fsType === 'xfs') {
      this.quota(project, [id === 0 ? `project -C -p ${project.path} ${project.projectId}` : `project -s -p ${project.path} ${id}`]);
      return;
    }
    run('find', [project.path, '-xdev', '(', '-type', 'f', '-o', '-type', 'd', ')', '-exec', 'chattr', '-p', String(id), '{}', '+']);
    run('find', [project.path, '-xdev', '-type', 'd', '-exec', 'chattr', id === 0 ? '-P' : '+P', '{}', '+']);
  }

  private quota(project: ProjectRecord, commands: string[]): void {
    // -f: xfs_quota drives ext4 (a "foreign" filesystem) through the generic quotactl.
    const foreign = project.fsType === 'xfs' ? [] : ['-f'];
    run('xfs_quota', ['-x', ...foreign, ...commands.flatMap((command) => ['-c', command]), project.mountPoint]);
  }

  /** A project id no other box holds (claimed atomically across processes). */
  private allocate(boxId: string): number {
    for (let id = FIRST_PROJECT_ID; id < FIRST_PROJECT_ID + 1_000_000; id++) {
      if (this.state.claim(NAMESPACE, String(id), boxId)) return id;
      if (this.state.get(NAMESPACE, String(id)) === boxId) return id;
    }
    throw new NsboxError('E_RUNTIME', 'no free project id for the box');
  }
}
