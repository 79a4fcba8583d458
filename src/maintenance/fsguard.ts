import fs from 'node:fs';
import path from 'node:path';

/**
 * WAL needs every connection on one host sharing memory-mapped -shm, which network and
 * user-space filesystems do not give. statfs(2) magic numbers tell them apart.
 */

export interface FilesystemInfo {
  type: string;
  magic: number;
  network: boolean;
}

const NETWORK: ReadonlyMap<number, string> = new Map([
  [0x6969, 'nfs'],
  [0x517b, 'smb'],
  [0xff534d42, 'cifs'],
  [0xfe534d42, 'smb2'],
  [0x65735546, 'fuse'],
  [0x01021997, '9p'],
  [0x73757245, 'coda'],
  [0x5346414f, 'afs'],
  [0x00c36400, 'ceph'],
]);

const LOCAL: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlay'],
  [0x2fc12fc1, 'zfs'],
  [0xf2f52010, 'f2fs'],
]);

/** statfs's f_type is a signed word on some platforms; compare as unsigned 32-bit. */
function normalise(magic: number): number {
  return magic >>> 0;
}

/** ext2, ext3 and ext4 share one magic number and are reported as ext4. */
export function fsTypeName(magic: number): string {
  const key = normalise(magic);
  return NETWORK.get(key) ?? LOCAL.get(key) ?? `unknown(0x${key.toString(16)})`;
}

export function isNetworkFs(magic: number): boolean {
  return NETWORK.has(normalise(magic));
}

/** The filesystem holding `target`: the path itself when it is a directory, else its directory. */
export function filesystemOf(target: string): FilesystemInfo {
  const isDir = fs.statSync(target, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const magic = normalise(fs.statfsSync(isDir ? target : path.dirname(target)).type);
  return { type: fsTypeName(magic), magic, network: isNetworkFs(magic) };
}
