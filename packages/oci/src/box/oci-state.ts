/** The OCI state of a box (runtime-spec "State"), as `state`, `list` and hooks show it. */

import type { Box } from '@nsbox/core';
import { isRunning, type OciRuntimeFacts, ociFacts } from './oci-driver.js';

export type OciStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export const OCI_VERSION = '1.2.0';

export function ociStatus(box: Box): OciStatus {
  const runtime = box.runtime as Partial<OciRuntimeFacts>;
  switch (box.state) {
    case 'creating':
    case 'starting':
      return 'creating';
    case 'running':
    case 'paused':
    case 'pausing':
    case 'resuming':
      if (!isRunning(runtime.init)) return 'stopped';
      if (box.state === 'paused' || box.state === 'resuming') return 'paused';
      return runtime.oci?.started ? 'running' : 'created';
    default:
      return 'stopped';
  }
}

export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: OciStatus;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function ociState(box: Box, status: OciStatus = ociStatus(box)): OciState {
  const facts = ociFacts(box);
  const init = (box.runtime as Partial<OciRuntimeFacts>).init;
  const annotations = facts.spec.annotations ?? {};
  return {
    ociVersion: OCI_VERSION,
    id: facts.id,
    pid: status === 'stopped' || !init ? 0 : init.pid,
    status,
    bundle: facts.bundle,
    rootfs: facts.spec.root.path,
    created: facts.created,
    owner: '',
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

/** What hooks get on stdin: the runtime-spec's State object. */
export function hookState(box: Box, status: OciStatus): Record<string, unknown> {
  const state = ociState(box, status);
  return { ociVersion: state.ociVersion, id: state.id, status, pid: state.pid, bundle: state.bundle, annotations: state.annotations ?? {} };
}
