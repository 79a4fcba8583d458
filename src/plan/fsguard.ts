import { existsSync } from 'node:fs';
import path from 'node:path';
import { realBoardPath } from '../board/index.js';
import type { BoardSpec, ConfigIssue, SupervisorConfig } from '../config/index.js';
import { filesystemOf, type FilesystemInfo } from '../maintenance/index.js';

/**
 * WAL needs every process on one host with a local filesystem: a board on NFS, SMB/CIFS, FUSE or 9p
 * is refused unless `kanban.allow_network_fs: true`.
 */
export function networkFsIssue(config: SupervisorConfig, board: BoardSpec, fs: FilesystemInfo): ConfigIssue | null {
  if (!fs.network || config.kanban.allow_network_fs) return null;
  return {
    file: config.file,
    key: 'kanban.allow_network_fs',
    message: `board "${board.slug}" at ${board.path} is on a ${fs.type} mount; SQLite's WAL needs a local filesystem, so no gateway is granted it (set kanban.allow_network_fs: true to accept the risk)`,
  };
}

/** The filesystem a board is (or will be) on: its real file's nearest existing folder's (a symlink's target may be on another mount). */
export function boardFilesystem(board: BoardSpec): FilesystemInfo {
  let dir = path.dirname(realBoardPath(board.path));
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return filesystemOf(dir);
}
