import { plainTable } from './table.js';
import type { OutsideGateway, OutsideReport } from '../outside/index.js';
import { safeText } from '../util/index.js';

/** The command that stops a unit and keeps it from starting again, in its scope. */
function disableCommand(unit: OutsideReport['units'][number]): string {
  const name = unit.name.replace(/\.service$/, '');
  return unit.scope === 'user' ? `systemctl --user disable --now ${name}` : `sudo systemctl disable --now ${name}`;
}

function whose(gateway: OutsideGateway): string {
  if (gateway.profile !== null) return `profile ${gateway.profile}`;
  return gateway.environ_readable ? 'a Hermes home outside this fleet' : "an unknown profile (another user's process: its environment cannot be read)";
}

function startedBy(gateway: OutsideGateway): string {
  return gateway.other_supervisor === null ? '' : ` (started by another hermes-supervisor, state dir ${gateway.other_supervisor})`;
}

/** What a gateway outside the supervisor means for the fleet, and what to do about it. */
function consequence(gateway: OutsideGateway): string {
  if (gateway.supervised) return 'it will fight the supervised one: stop it or disable its unit';
  return 'the supervisor does not run that profile, so nothing fights it here';
}

/** `validate`'s warning lines: each gateway and unit outside the supervisor. They are warnings, never config errors. */
export function outsideWarnings(report: OutsideReport): string[] {
  return [
    ...report.gateways.map(
      (gateway) =>
        `warning: a Hermes gateway started outside the supervisor runs for ${whose(gateway)} (pid ${gateway.pid}: ${safeText(gateway.command)})${safeText(startedBy(gateway))}; ${consequence(gateway)}`,
    ),
    ...report.units.map((unit) => `warning: systemd unit ${safeText(unit.path)} would start a gateway outside the supervisor; disable it (${safeText(disableCommand(unit))})`),
  ];
}

/** `check`'s section: a table of the gateways, a line per unit; "none" when there is neither. */
export function outsideSection(report: OutsideReport): string[] {
  if (report.gateways.length === 0 && report.units.length === 0) return ['gateways outside the supervisor: none'];
  const lines = ['gateways outside the supervisor:'];
  if (report.gateways.length > 0) {
    const table = plainTable(['profile', 'pid', 'note', 'command']);
    for (const gateway of report.gateways) {
      const note = gateway.supervised ? 'CONFLICT (supervised profile)' : gateway.environ_readable ? 'not supervised' : "another user's";
      table.push([gateway.profile ?? '?', gateway.pid, safeText(`${note}${startedBy(gateway)}`), safeText(gateway.command)]);
    }
    lines.push(table.toString());
  }
  for (const unit of report.units) lines.push(`unit ${safeText(unit.path)}${unit.supervised ? ' (a supervised profile)' : ''}: disable it (${safeText(disableCommand(unit))})`);
  return lines;
}
