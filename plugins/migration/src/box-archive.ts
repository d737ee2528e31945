/**
 * A box as one portable file: `nsbox-export.json` (the box's id, name and config), the
 * box's root as `rootfs.tar` (made by the host's tar, numeric owners and file capabilities
 * kept; unpacked on import by the runtime's checked tarball extraction), and, for a box saved
 * by a checkpoint, criu's images under `images/`. The outer tar is this plugin's own
 * (strict-tar.ts): plain files at these names, nothing else.
 */

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { type Box, NsboxError, z } from '@nsbox/core';
import { type PlannedMember, plannedLength, type StrictMember, tarChunks, unpackStrict, unpackStrictStream } from './strict-tar.js';

const run = promisify(execFile);

export const ARCHIVE_MANIFEST = 'nsbox-export.json';
export const ROOTFS_MEMBER = 'rootfs.tar';
export const IMAGES_DIR = 'images';
/** criu's image names (and ours): no slash, no leading dot. */
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const MAX_MANIFEST = 1024 * 1024;

export const archiveManifestSchema = z.strictObject({
  format: z.literal(1),
  kind: z.literal('nsbox-box'),
  box: z.strictObject({
    id: z.string().min(1),
    name: z.string().min(1),
    config: z.record(z.string(), z.unknown()),
  }),
  exportedAt: z.number(),
  /** The archive has criu's images: the box is restored from them rather than started. */
  checkpoint: z.boolean(),
});

export type ArchiveManifest = z.infer<typeof archiveManifestSchema>;

/** An absolute path for a new file: E_INVALID_ARGUMENT naming `field` otherwise. */
export function newFilePath(path: string, field: string): string {
  if (!isAbsolute(path)) throw new NsboxError('E_INVALID_ARGUMENT', `${field}: ${path} is not an absolute path`, { details: { field } });
  if (existsSync(path)) throw new NsboxError('E_ALREADY_EXISTS', `${field}: ${path} exists already`, { details: { field } });
  if (!existsSync(dirname(path)) || !statSync(dirname(path)).isDirectory()) {
    throw new NsboxError('E_INVALID_ARGUMENT', `${field}: ${dirname(path)} is not a directory`, { details: { field } });
  }
  return path;
}

export interface ArchiveInput {
  box: Pick<Box, 'id' | 'name' | 'config'>;
  /** The box's root on this host (stopped: nothing of it is mounted). */
  rootfs: string;
  /** criu's images of the box's last checkpoint, when they are its latest state. */
  imageDir?: string;
  signal?: AbortSignal;
}

export interface ExportInput extends ArchiveInput {
  file: string;
  /** fsync the archive before it takes its name (default). */
  sync?: boolean;
}

/** Tars the box's root into `rootfsTar` (the host's tar) and lists the archive's members, each with its size. */
async function planBoxArchive(input: ArchiveInput, rootfsTar: string): Promise<{ members: PlannedMember[]; checkpoint: boolean }> {
  // --one-file-system: a mount left in the root is not the box's; no -h: symlinks stay links.
  await run(
    'tar',
    [
      '-c',
      '-f',
      rootfsTar,
      '--numeric-owner',
      '--one-file-system',
      '--xattrs',
      '--xattrs-include=security.capability',
      '--xattrs-include=user.*',
      '-C',
      input.rootfs,
      '.',
    ],
    { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 1024 * 1024, ...(input.signal ? { signal: input.signal } : {}) },
  ).catch((error: Error & { stderr?: string }) => {
    throw new NsboxError('E_RUNTIME', `cannot archive the root of box '${input.box.name}': ${error.stderr?.trim() || error.message}`, {
      details: { box: input.box.name, rootfs: input.rootfs },
    });
  });
  const manifest: ArchiveManifest = {
    format: 1,
    kind: 'nsbox-box',
    box: { id: input.box.id, name: input.box.name, config: input.box.config },
    exportedAt: Date.now(),
    checkpoint: input.imageDir !== undefined,
  };
  const members: PlannedMember[] = [{ name: ARCHIVE_MANIFEST, type: 'buffer', content: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) }];
  if (input.imageDir) {
    members.push({ name: IMAGES_DIR, type: 'dir' });
    for (const name of readdirSync(input.imageDir).sort()) {
      const stat = lstatSync(join(input.imageDir, name));
      // criu writes plain files only; anything else is not an image.
      if (!IMAGE_NAME.test(name) || !stat.isFile()) continue;
      members.push({ name: `${IMAGES_DIR}/${name}`, type: 'file', path: join(input.imageDir, name), size: stat.size, mode: stat.mode });
    }
  }
  const root = lstatSync(rootfsTar);
  members.push({ name: ROOTFS_MEMBER, type: 'file', path: rootfsTar, size: root.size, mode: root.mode });
  return { members, checkpoint: manifest.checkpoint };
}

/**
 * Writes the archive beside `file` under a hidden name and renames it into place once whole:
 * a failed or cancelled export leaves no file.
 */
export async function writeBoxArchive(input: ExportInput): Promise<{ file: string; bytes: number; checkpoint: boolean }> {
  const partial = join(dirname(input.file), `.${basename(input.file)}.${randomBytes(4).toString('hex')}.partial`);
  const rootfsTar = `${partial}.rootfs`;
  try {
    const plan = await planBoxArchive(input, rootfsTar);
    const output = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of tarChunks(plan.members, input.signal)) await output.write(chunk);
      if (input.sync ?? true) await output.sync();
    } finally {
      await output.close();
    }
    if (existsSync(input.file)) throw new NsboxError('E_ALREADY_EXISTS', `file: ${input.file} exists already`, { details: { field: 'file' } });
    renameSync(partial, input.file);
    return { file: input.file, bytes: statSync(input.file).size, checkpoint: plan.checkpoint };
  } finally {
    rmSync(partial, { force: true });
    rmSync(rootfsTar, { force: true });
  }
}

/**
 * Hands the archive to `send` as a stream read as it goes, its length known first (a
 * migration's upload: no archive file is written); `scratch` holds the root's tarball meanwhile.
 */
export async function streamBoxArchive(
  input: ArchiveInput & { scratch: string },
  send: (body: AsyncIterable<Buffer>, length: number) => Promise<unknown>,
): Promise<{ bytes: number; checkpoint: boolean }> {
  try {
    const plan = await planBoxArchive(input, input.scratch);
    const length = plannedLength(plan.members);
    await send(tarChunks(plan.members, input.signal), length);
    return { bytes: length, checkpoint: plan.checkpoint };
  } finally {
    rmSync(input.scratch, { force: true });
  }
}

export interface UnpackedArchive {
  manifest: ArchiveManifest;
  /** The root's tarball, for the runtime to unpack into the new box's directory. */
  rootfsTar: string;
  /** criu's images, when the archive has them. */
  imageDir?: string;
}

function allowedMember(member: StrictMember): boolean {
  if (member.type === 'dir') return member.name === `${IMAGES_DIR}/`;
  if (member.name === ARCHIVE_MANIFEST) return member.size <= MAX_MANIFEST;
  if (member.name === ROOTFS_MEMBER) return true;
  const [dir, name, ...rest] = member.name.split('/');
  return dir === IMAGES_DIR && rest.length === 0 && IMAGE_NAME.test(name ?? '');
}

function refused(file: string, why: string, details: Record<string, unknown> = {}): NsboxError {
  return new NsboxError('E_INVALID_ARGUMENT', `${file} is not a box archive nsbox can import: ${why}`, { details: { field: 'file', ...details } });
}

/** Unpacks `file` into `staging` (an empty directory of the caller's) and checks what it says. */
export async function unpackBoxArchive(file: string, staging: string, signal?: AbortSignal): Promise<UnpackedArchive> {
  if (!isAbsolute(file)) throw new NsboxError('E_INVALID_ARGUMENT', `file: ${file} is not an absolute path`, { details: { field: 'file' } });
  if (!existsSync(file) || !statSync(file).isFile()) throw new NsboxError('E_NOT_FOUND', `file: ${file} is not a file`, { details: { field: 'file' } });
  await unpackStrict(file, staging, allowedMember, signal);
  return readUnpackedArchive(file, staging);
}

/** Unpacks an archive as it arrives (a migration's upload) into `staging`; the caller removes it when this fails. */
export async function unpackBoxArchiveStream(stream: AsyncIterable<Buffer>, label: string, staging: string, signal?: AbortSignal): Promise<void> {
  await unpackStrictStream(stream, label, staging, allowedMember, signal);
}

/**
 * What an unpacked archive in `staging` says, checked: its manifest, its root's tarball and,
 * when it says so, its images. Only members the strict reader let through are there.
 */
export function readUnpackedArchive(file: string, staging: string): UnpackedArchive {
  const has = (name: string) => lstatSync(join(staging, name), { throwIfNoEntry: false })?.isFile() === true;
  if (!has(ARCHIVE_MANIFEST)) throw refused(file, `it has no ${ARCHIVE_MANIFEST}`);
  if (!has(ROOTFS_MEMBER)) throw refused(file, `it has no ${ROOTFS_MEMBER}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(staging, ARCHIVE_MANIFEST), 'utf8'));
  } catch (error) {
    throw refused(file, `its ${ARCHIVE_MANIFEST} is not JSON (${(error as Error).message})`);
  }
  const checked = archiveManifestSchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw refused(file, `its ${ARCHIVE_MANIFEST} is wrong at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`, { member: ARCHIVE_MANIFEST });
  }
  const manifest = checked.data;
  if (manifest.checkpoint && !has(`${IMAGES_DIR}/nsbox-checkpoint.json`)) throw refused(file, 'it says it has a checkpoint but has no images');
  return {
    manifest,
    rootfsTar: join(staging, ROOTFS_MEMBER),
    ...(manifest.checkpoint ? { imageDir: join(staging, IMAGES_DIR) } : {}),
  };
}
