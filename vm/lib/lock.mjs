// A lock directory shared by every run on this machine (two engineers may start the VM lane
// at once): mkdir is atomic; the holder's pid inside lets a later run take over a lock whose
// holder died.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive, removeTreeOnOneFilesystem } from './system.mjs';

const WAIT_MS = 60 * 60 * 1000;

function holder(dir) {
  try {
    return Number(readFileSync(join(dir, 'pid'), 'utf8'));
  } catch {
    return undefined;
  }
}

async function acquire(dir, log) {
  const deadline = Date.now() + WAIT_MS;
  let told = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    const pid = holder(dir);
    if (pid !== undefined && !processAlive(pid)) {
      log(`taking over the lock ${dir} from pid ${pid}, which is gone`);
      removeTreeOnOneFilesystem(dir);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the lock ${dir} is still held by pid ${pid} after ${WAIT_MS / 60000} minutes`);
    if (!told) log(`waiting for pid ${pid ?? '?'} to finish building the guest image (${dir})`);
    told = true;
    await sleep(2000);
  }
}

export async function withLock(dir, log, action) {
  await acquire(dir, log);
  try {
    return await action();
  } finally {
    removeTreeOnOneFilesystem(dir);
  }
}
