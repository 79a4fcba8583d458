import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const PM2 = path.join(repoRoot, 'node_modules', 'pm2', 'bin', 'pm2');

export interface Pm2App {
  name: string;
  interpreter: string;
  script: string;
  args: string[];
  env: Record<string, string>;
  /** Files and folders whose changes restart the app (PM2's file watch); none turns the watch off. */
  watch: string[];
}

export interface Pm2Process {
  name: string;
  pid: number;
  restart_time: number;
  status: string;
}

/** PM2 confined to its own home: its daemon, logs and dump live there and nowhere else. */
export class Pm2 {
  readonly home: string;

  constructor(root: string) {
    this.home = path.join(root, 'pm2');
    mkdirSync(this.home);
  }

  private run(args: string[], timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [PM2, ...args],
        {
          timeout: timeoutMs,
          // jlist prints every app's whole environment: hundreds of apps make tens of megabytes.
          maxBuffer: 256 << 20,
          // Discrete mode skips the first-run banner and its version check; no network at all.
          env: { ...process.env, PM2_HOME: this.home, PM2_DISCRETE_MODE: 'true', PM2_DISABLE_VERSION_CHECK: 'true' },
        },
        (error, stdout, stderr) => (error ? reject(new Error(`pm2 ${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
  }

  /** Starts the apps from an ecosystem file: fork mode, one process each. */
  async start(apps: Pm2App[]): Promise<void> {
    const file = path.join(this.home, 'ecosystem.json');
    const ecosystem = {
      apps: apps.map((app) => ({
        name: app.name,
        script: app.script,
        interpreter: app.interpreter,
        args: app.args,
        exec_mode: 'fork',
        instances: 1,
        autorestart: true,
        watch: app.watch.length > 0 ? app.watch : false,
        env: app.env,
        cwd: this.home,
      })),
    };
    writeFileSync(file, JSON.stringify(ecosystem, null, 2));
    // A large fleet takes PM2 a while to start: 200 apps need well over the default 30 s here.
    await this.run(['start', file], 300_000);
  }

  /** The apps as jlist reports them; with hundreds of apps starting at once it can take a minute. */
  async list(): Promise<Pm2Process[]> {
    const out = await this.run(['jlist'], 120_000);
    const list = JSON.parse(out.slice(out.indexOf('['))) as Array<{ name: string; pid: number; pm2_env: { restart_time: number; status: string } }>;
    return list.map((p) => ({ name: p.name, pid: p.pid, restart_time: p.pm2_env.restart_time, status: p.pm2_env.status }));
  }

  /** The PM2 daemon's pid, from its home. */
  daemonPid(): number {
    return Number(readFileSync(path.join(this.home, 'pm2.pid'), 'utf8').trim());
  }

  /**
   * Stops every app and the daemon, and makes sure of it: with hundreds of apps `pm2 kill` can time
   * out and leave its daemon and some apps behind, so whatever it leaves is SIGKILLed by pid.
   */
  async kill(): Promise<void> {
    const pids = new Set<number>();
    try {
      const daemon = this.daemonPid();
      pids.add(daemon);
      // jlist would start a new daemon when none runs: ask only a live one.
      if (existsSync(`/proc/${daemon}`)) for (const app of await this.list()) if (app.pid > 0) pids.add(app.pid);
    } catch {
      // No daemon (it never started, or is gone already): nothing to list.
    }
    await this.run(['kill'], 120_000).catch(() => undefined);
    for (const pid of pids) {
      try {
        // Only a process of this PM2 home: a pid that ended may have been reused meanwhile.
        if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PM2_HOME=${this.home}`)) process.kill(pid, 'SIGKILL');
      } catch {
        // Ended already.
      }
    }
  }
}
