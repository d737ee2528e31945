// What this host builds from Debian's mirrors and the guest, which has no network, cannot:
// the debian-12 template the boot suites share (debootstrap) and criu in setup's private
// prefix. The run makes sure the template exists here, and copies both onto the guest's node
// disk (vm/guest/run.sh points the suites at them). Without criu, the migration suites skip
// in the guest, named (vm/expected-skips.json).

import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { removeTreeOnOneFilesystem, run } from './system.mjs';

const TEMPLATE = 'debian-12';
/** Where the boot suites keep their template (plugins/virtualisation/test/debian-box.ts). */
const templateCache = () => process.env.NSBOX_TEST_TEMPLATE_CACHE ?? '/var/tmp/nsbox-test-templates';

const HOST_BUILT = [
  { source: () => join(templateCache(), TEMPLATE), target: join('templates', TEMPLATE) },
  { source: () => '/var/lib/nsbox/criu', target: 'criu' },
];

/** Builds the boot suites' template into their cache when npm test has not (debootstrap: minutes, once). */
export async function ensureTestTemplate(repo, log) {
  if (existsSync(join(templateCache(), TEMPLATE))) return false;
  log(`building the ${TEMPLATE} template the boot suites share into ${templateCache()} (debootstrap, once)`);
  const { materializeTemplate } = await import(pathToFileURL(join(repo, 'packages', 'runtime', 'dist', 'index.js')).href);
  const scratch = mkdtempSync(join(tmpdir(), 'nsbox-vm-template-'));
  try {
    await materializeTemplate(TEMPLATE, join(scratch, 'rootfs'), { cacheDir: templateCache() });
  } finally {
    removeTreeOnOneFilesystem(scratch);
  }
  return true;
}

/** Copies what the host built into the node disk's staging dir, owners, modes and device nodes kept (cp -a; mke2fs -d keeps them). */
export function stageHostBuilt(staging) {
  for (const { source, target } of HOST_BUILT) {
    const from = source();
    if (!existsSync(from)) continue;
    mkdirSync(dirname(join(staging, target)), { recursive: true });
    run('cp', ['-a', '--', from, join(staging, target)], {}, `copying ${from} for the guest`);
  }
}
