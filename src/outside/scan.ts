import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listPids, readProcStat } from '../board/proc.js';
import { readEnviron } from '../proc/marks.js';
import { byText } from '../util/index.js';
import { parseGatewayCommand } from './command.js';
import { outsideGateways, pidFileGateways, type FleetView, type OutsideGateway, type ProcessFacts } from './find.js';

/** Hermes's runtime pid record in a profile home (`{"pid": ..., "start_time": ...}`, or a bare pid in old files). */
const GATEWAY_PID_FILE = 'gateway.pid';

function readCmdline(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return text.split('\0').slice(0, text.endsWith('\0') ? -1 : undefined);
  } catch {
    return null;
  }
}

/** A live (not zombie) process's facts, its environment read only when asked for. */
function processFacts(pid: number, argv: string[]): (ProcessFacts & { startTime: number }) | null {
  const stat = readProcStat(pid);
  if (stat === null || stat.state === 'Z') return null;
  return { pid, pgrp: stat.pgrp, startTime: stat.startTime, argv, env: readEnviron(pid) };
}

/**
 * Every live process whose command line runs a Hermes gateway. Reads each process's cmdline once
 * (a few milliseconds on a busy host) and the stat and environ of matches only: it runs when an
 * operator asks (`validate`, `check`), never on a timer. A process whose cmdline cannot be read
 * (hidden by hidepid) cannot be told from any other and is left out.
 */
export function scanGatewayProcesses(): ProcessFacts[] {
  const found: ProcessFacts[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const argv = readCmdline(pid);
    if (argv === null || parseGatewayCommand(argv) === null) continue;
    const facts = processFacts(pid, argv);
    if (facts !== null) found.push(facts);
  }
  return found;
}

/** The live process a home's gateway.pid names, or null: no file, a dead pid, or a pid reused since (start time differs). */
function pidFileProcess(home: string): ProcessFacts | null {
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(path.join(home, GATEWAY_PID_FILE), 'utf8'));
  } catch {
    return null;
  }
  const { pid, start_time: startTime } = (typeof record === 'number' ? { pid: record } : (record ?? {})) as { pid?: unknown; start_time?: unknown };
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return null;
  const facts = processFacts(pid, readCmdline(pid) ?? []);
  if (facts === null || (typeof startTime === 'number' && startTime !== facts.startTime)) return null;
  return facts;
}

/** Every Hermes gateway running outside the supervisor: by command line, then by the profile homes' gateway.pid. */
export function findOutsideGateways(view: FleetView): OutsideGateway[] {
  const byCommand = outsideGateways(scanGatewayProcesses(), view);
  const homes = new Set([view.hermesHome, ...view.profiles.map((profile) => profile.home)]);
  const named = [...homes].flatMap((home) => {
    const facts = pidFileProcess(home);
    return facts === null ? [] : [{ home, facts }];
  });
  const found = [...byCommand, ...pidFileGateways(named, new Set(byCommand.map((gateway) => gateway.pid)), view)];
  return found.sort((a, b) => byText(a.profile ?? '', b.profile ?? '') || a.pid - b.pid);
}

/** An installed Hermes gateway unit: Hermes names them `hermes-gateway.service` and `hermes-gateway-<profile>.service`. */
export interface GatewayUnit {
  name: string;
  path: string;
  /** `user` units run under `systemctl --user`; `system` ones under the system manager. */
  scope: 'user' | 'system';
  /** `default` for `hermes-gateway.service`, the name after `hermes-gateway-` otherwise; null for a template. */
  profile: string | null;
}

const UNIT_NAME = /^hermes-gateway(?:-(.+))?(@)?\.service$/;

/** Where systemd looks for units: the user's own, then the system's. */
export function unitDirs(home = os.homedir()): Array<{ dir: string; scope: GatewayUnit['scope'] }> {
  return [
    { dir: path.join(home, '.config', 'systemd', 'user'), scope: 'user' },
    { dir: '/etc/systemd/user', scope: 'user' },
    { dir: '/etc/systemd/system', scope: 'system' },
    { dir: '/lib/systemd/system', scope: 'system' },
    { dir: '/usr/lib/systemd/system', scope: 'system' },
  ];
}

/** The unit a file name names, or null when it is no Hermes gateway unit. */
export function gatewayUnitProfile(name: string): { profile: string | null } | null {
  const match = UNIT_NAME.exec(name);
  if (match === null) return null;
  if (match[2] !== undefined) return { profile: null };
  return { profile: match[1] ?? 'default' };
}

/** Whether a unit file is masked (a link to /dev/null): systemd will never start it. */
function masked(file: string): boolean {
  try {
    return readlinkSync(file) === '/dev/null';
  } catch {
    return false;
  }
}

/**
 * The Hermes gateway unit files installed for systemd, read from the unit folders only: systemctl is
 * never run (it may be missing, or need a session bus the supervisor does not have).
 */
export function findGatewayUnits(dirs = unitDirs()): GatewayUnit[] {
  const units: GatewayUnit[] = [];
  for (const { dir, scope } of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const unit = gatewayUnitProfile(name);
      const file = path.join(dir, name);
      if (unit !== null && !masked(file)) units.push({ name, path: file, scope, profile: unit.profile });
    }
  }
  return units;
}

