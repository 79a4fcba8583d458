import path from 'node:path';
import type { ConfigIssue, SupervisorConfig } from '../config/index.js';
import { trustProblem } from './check.js';

/**
 * The supervisor config's own paths, checked before use: the config file it reads, the state dir it
 * writes in and the control socket it answers on. A path that does not exist yet is created private.
 */
export function configTrustIssues(config: SupervisorConfig, uid?: number): ConfigIssue[] {
  const issue = (key: string | undefined, problem: string | null): ConfigIssue[] =>
    problem === null ? [] : [{ file: config.file, ...(key ? { key } : {}), message: problem }];
  const socketDir = path.dirname(config.control.socket);
  const socketIssues = () => {
    // The socket's folder is usually the state dir, checked already: one line per problem.
    const folder = socketDir === config.state_dir ? null : trustProblem(socketDir, { what: 'control socket folder', finalOwner: 'user', finalKind: 'directory', missingOk: true, uid });
    return issue('control.socket', folder ?? trustProblem(config.control.socket, { what: 'control socket', finalOwner: 'user', finalKind: 'socket', missingOk: true, uid }));
  };
  return [
    ...issue(undefined, trustProblem(config.file, { what: 'config file', finalOwner: 'user-or-root', finalKind: 'file', uid })),
    ...issue('state_dir', trustProblem(config.state_dir, { what: 'state dir', finalOwner: 'user', finalKind: 'directory', missingOk: true, uid })),
    ...socketIssues(),
  ];
}

/**
 * A profile is run only from a folder and config.yaml that nobody but the user and root can change.
 * A config that does not exist is left to the reader, which names the problem.
 */
export function profileTrustProblem(home: string, configFile: string, uid?: number): string | null {
  return (
    trustProblem(home, { what: 'profile folder', finalOwner: 'user-or-root', finalKind: 'directory', uid }) ??
    trustProblem(configFile, { what: 'profile config', finalOwner: 'user-or-root', finalKind: 'file', missingOk: true, uid })
  );
}
