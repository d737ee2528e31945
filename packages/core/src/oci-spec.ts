/**
 * The subset of the OCI runtime spec (v1.x) that nsbox's core and plugins edit. It is the
 * lingua franca between plugins and the runtime: plain data, no Linux knowledge here.
 */

export interface OciMount {
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';
  path?: string;
}

export interface OciRlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface OciProcess {
  terminal?: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: {
    bounding?: string[];
    effective?: string[];
    permitted?: string[];
    inheritable?: string[];
    ambient?: string[];
  };
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    namespaces: OciNamespace[];
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    timeOffsets?: Record<string, { secs: number; nanosecs?: number }>;
    sysctl?: Record<string, string>;
    resources?: Record<string, unknown>;
    cgroupsPath?: string;
    rootfsPropagation?: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    seccomp?: { defaultAction: string; defaultErrnoRet?: number; architectures?: string[]; syscalls?: OciSeccompRule[] };
    devices?: { path: string; type: string; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }[];
  };
}
