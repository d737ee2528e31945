// Boots the guest under qemu: KVM when /dev/kvm opens, TCG (much slower) otherwise; the
// kernel and initramfs straight from the image; no network device at all.

import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';

export const GUEST_CPUS = 2;
export const GUEST_MEMORY = '5G';
/** How much slower the suites run under TCG than on hardware, roughly (measured: 10-60x). */
export const TCG_SLOWDOWN = 20;

/**
 * Whether qemu can run the guest with KVM, and why not: /dev/kvm must open, and be backed by
 * the CPU's virtualisation (kvm_intel, kvm_amd). A /dev/kvm from a software hypervisor such
 * as PVM (kvm_pvm, for clouds without nested virtualisation) runs only guest kernels built
 * for it: Debian's kernel would crawl there, far slower than TCG.
 */
export function kvmSupport() {
  const forced = process.env.NSBOX_VM_ACCEL;
  if (forced === 'tcg') return { kvm: false, why: 'NSBOX_VM_ACCEL=tcg' };
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
  } catch (error) {
    return { kvm: false, why: `/dev/kvm does not open (${error.code})` };
  }
  if (forced === 'kvm') return { kvm: true, why: 'NSBOX_VM_ACCEL=kvm' };
  if (existsSync('/sys/module/kvm_intel') || existsSync('/sys/module/kvm_amd')) return { kvm: true, why: 'hardware virtualisation' };
  const backend = existsSync('/sys/module/kvm_pvm') ? 'PVM (kvm_pvm), a software hypervisor' : 'no kvm_intel or kvm_amd module';
  return { kvm: false, why: `/dev/kvm is ${backend}: it cannot run an unmodified Debian kernel at speed` };
}

function drive(id, file, { snapshot = false, readonly = false } = {}) {
  const options = [`file=${file}`, 'if=none', `id=${id}`, 'format=raw', 'cache=unsafe', 'discard=unmap'];
  if (snapshot) options.push('snapshot=on');
  if (readonly) options.push('readonly=on');
  // The serial names the disk in the guest: /dev/disk/by-id/virtio-nsbox-<id>.
  return ['-drive', options.join(','), '-device', `virtio-blk-pci,drive=${id},serial=nsbox-${id}`];
}

export function qemuArgs({ image, disks, repo, output, console: consoleLog, kvm, specs }) {
  const cmdline = [
    'root=/dev/vda',
    'rw',
    'console=ttyS0',
    'panic=-1',
    // Pure cgroup v2, whatever the image's systemd would default to.
    'systemd.unified_cgroup_hierarchy=1',
    'systemd.show_status=error',
    `nsbox.repo=${repo.replaceAll(' ', '%20')}`,
  ];
  // TCG runs the guest tens of times slower: vm/guest/slow-machine.cjs scales mocha's timeouts.
  if (!kvm) cmdline.push(`nsbox.slowdown=${TCG_SLOWDOWN}`);
  // Only these spec files (npm run test:vm -- <files>), read by vm/guest/run.sh.
  if (specs.length > 0) cmdline.push(`nsbox.specs=${Buffer.from(specs.join('\n')).toString('base64')}`);
  return [
    '-machine',
    'q35',
    '-accel',
    // Multi-threaded TCG: one host thread per vCPU.
    kvm ? 'kvm' : 'tcg,thread=multi',
    // 'host' without arch-capabilities: nested KVM on some hosts refuses that MSR at boot.
    '-cpu',
    kvm ? 'host,-arch-capabilities' : 'max',
    '-smp',
    String(GUEST_CPUS),
    '-m',
    GUEST_MEMORY,
    '-nodefaults',
    '-display',
    'none',
    '-no-reboot',
    '-nic',
    'none',
    '-kernel',
    image.kernel,
    '-initrd',
    image.initrd,
    '-append',
    cmdline.join(' '),
    ...drive('root', image.rootfs, { snapshot: true }),
    ...drive('tree', disks.tree),
    // Writable: tsx's cache on it grows (vm/guest/run.sh remounts it read-write).
    ...drive('node', disks.node),
    ...drive('swap', disks.swap),
    ...drive('scratch', disks.scratch),
    '-device',
    'virtio-rng-pci',
    '-device',
    'virtio-serial-pci',
    '-chardev',
    `file,id=out,path=${output}`,
    '-device',
    'virtserialport,chardev=out,name=org.nsbox.out',
    '-serial',
    `file:${consoleLog}`,
  ];
}

/**
 * Starts qemu under setpriv --pdeathsig: if this process dies (even by SIGKILL), the kernel
 * kills qemu too, so no guest outlives the run that started it.
 */
export function startQemu(args, { tmpdir }) {
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'qemu-system-x86_64', ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    // -snapshot's overlay of the root disk goes there (qemu unlinks it at once).
    env: { ...process.env, TMPDIR: tmpdir },
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}
