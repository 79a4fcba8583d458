/**
 * Every file and folder in a supervisor's state dir, by name. Nothing else spells these names, so the
 * layout can be read (and changed) in one place.
 */
import path from 'node:path';

/** The default state dir: `<hermes_home>/supervisor`. */
export const defaultStateDir = (hermesHome: string): string => path.join(hermesHome, 'supervisor');

/** The default control socket. */
export const defaultSocket = (stateDir: string): string => path.join(stateDir, 'supervisor.sock');

/** The event log; rotated copies are `events.jsonl.1` (newest) and up. */
export const eventsFile = (stateDir: string): string => path.join(stateDir, 'events.jsonl');

/** The folder of gateway output logs. */
export const logsDir = (stateDir: string): string => path.join(stateDir, 'logs');

/** The base name of a profile's output log; rotated copies are `<profile>.log.1` and up. */
export const logName = (profile: string): string => `${profile}.log`;

/** A profile's output log. */
export const logFile = (stateDir: string, profile: string): string => path.join(logsDir(stateDir), logName(profile));

/** Where a board's quarantined files (old sidecars, corrupt copies) are kept. */
export const quarantineDir = (stateDir: string, slug: string): string => path.join(stateDir, 'quarantine', slug);

/** An empty folder of a denied profile's own, its HERMES_KANBAN_HOME, so it cannot find the shared boards. */
export const deniedHome = (stateDir: string, profile: string): string => path.join(stateDir, 'denied', profile);

/** The running gateways' process records, read after a supervisor died without stopping them. */
export const recordsFile = (stateDir: string): string => path.join(stateDir, 'gateways.json');

/** The lock held by the one supervisor of this state dir. */
export const lockFile = (stateDir: string): string => path.join(stateDir, 'supervisor.lock');

/** The record of the running supervisor: pid, start time, config and socket. */
export const instanceFile = (stateDir: string): string => path.join(stateDir, 'supervisor.json');
