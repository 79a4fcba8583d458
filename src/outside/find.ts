import path from 'node:path';
import { ENV, STATE_DIR_MARK } from '../hermes/index.js';
import { redactText } from '../util/index.js';
import { parseGatewayCommand } from './command.js';

/** What the finder needs to know of the fleet. */
export interface FleetView {
  stateDir: string;
  hermesHome: string;
  profiles: ReadonlyArray<{ name: string; home: string; enabled: boolean }>;
  /** Process groups of the gateways the supervisor runs now (each gateway leads its own); empty when not known. */
  gatewayGroups: ReadonlySet<number>;
}

/** One live process, as far as telling whose gateway it is goes. */
export interface ProcessFacts {
  pid: number;
  pgrp: number;
  argv: string[];
  /** Null when /proc/<pid>/environ cannot be read: another user's process. */
  env: ReadonlyMap<string, string> | null;
}

/** A Hermes gateway running outside this supervisor. */
export interface OutsideGateway {
  pid: number;
  /** The profile it serves (from `-p`, else its HERMES_HOME); null when that cannot be told. */
  profile: string | null;
  /** Its HERMES_HOME, when its environment can be read and sets one. */
  home: string | null;
  /** Its command line, secret-shaped arguments hidden. */
  command: string;
  /** The profile is one this supervisor runs: the two gateways fight over it. */
  supervised: boolean;
  /** False for another user's process, whose environment (and so its profile home) cannot be read. */
  environ_readable: boolean;
  /** The state dir of another hermes-supervisor that started it, when one did. */
  other_supervisor: string | null;
  /** Its command line, or a profile home's gateway.pid naming it. */
  found_by: 'command' | 'pid_file';
}

/** Started by this supervisor: it carries this state dir's mark (gateways, hooks, kanban workers) or runs in a gateway's group. */
export function isOurs(facts: ProcessFacts, view: FleetView): boolean {
  return view.gatewayGroups.has(facts.pgrp) || facts.env?.get(STATE_DIR_MARK) === view.stateDir;
}

/** The profile a Hermes home belongs to: a fleet profile by its folder, `default` for the root, a name under `profiles/`, else null. */
export function profileOfHome(home: string, view: FleetView): string | null {
  const resolved = path.resolve(home);
  const known = view.profiles.find((profile) => path.resolve(profile.home) === resolved);
  if (known !== undefined) return known.name;
  if (resolved === path.resolve(view.hermesHome)) return 'default';
  return path.basename(path.dirname(resolved)) === 'profiles' ? path.basename(resolved) : null;
}

function finding(facts: ProcessFacts, profile: string | null, view: FleetView, foundBy: OutsideGateway['found_by']): OutsideGateway {
  return {
    pid: facts.pid,
    profile,
    home: facts.env?.get(ENV.home) ?? null,
    command: facts.argv.map(redactText).join(' '),
    supervised: profile !== null && view.profiles.some((planned) => planned.enabled && planned.name === profile),
    environ_readable: facts.env !== null,
    other_supervisor: facts.env?.get(STATE_DIR_MARK) ?? null,
    found_by: foundBy,
  };
}

/**
 * The profile a gateway process serves: `-p` first, as Hermes applies it before anything else; else
 * its HERMES_HOME; else Hermes's root, the `default` profile. Another user's process is reported with
 * what can be read (its pid and command line) but no profile: without its environment, which home it
 * serves is unknown, and it would be a guess to call it a conflict.
 */
function processProfile(facts: ProcessFacts, named: string | null, view: FleetView): string | null {
  if (facts.env === null) return null;
  if (named !== null) return named;
  const home = facts.env.get(ENV.home);
  return home === undefined ? 'default' : profileOfHome(home, view);
}

/** The Hermes gateways among `processes` that this supervisor did not start. */
export function outsideGateways(processes: readonly ProcessFacts[], view: FleetView): OutsideGateway[] {
  const found: OutsideGateway[] = [];
  for (const facts of processes) {
    const command = parseGatewayCommand(facts.argv);
    if (command === null || isOurs(facts, view)) continue;
    found.push(finding(facts, processProfile(facts, command.profile, view), view, 'command'));
  }
  return found;
}

/**
 * Live processes a profile home's gateway.pid names that are not ours and were not found by their
 * command line (Hermes started some other way): the profile is the home's.
 */
export function pidFileGateways(named: ReadonlyArray<{ home: string; facts: ProcessFacts }>, known: ReadonlySet<number>, view: FleetView): OutsideGateway[] {
  const found: OutsideGateway[] = [];
  for (const { home, facts } of named) {
    if (known.has(facts.pid) || isOurs(facts, view) || found.some((other) => other.pid === facts.pid)) continue;
    found.push(finding(facts, profileOfHome(home, view), view, 'pid_file'));
  }
  return found;
}
