import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
          maxBuffer: 8 << 20,
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

  async list(): Promise<Pm2Process[]> {
    const out = await this.run(['jlist']);
    const list = JSON.parse(out.slice(out.indexOf('['))) as Array<{ name: string; pid: number; pm2_env: { restart_time: number; status: string } }>;
    return list.map((p) => ({ name: p.name, pid: p.pid, restart_time: p.pm2_env.restart_time, status: p.pm2_env.status }));
  }

  /** The PM2 daemon's pid, from its home. */
  daemonPid(): number {
    return Number(readFileSync(path.join(this.home, 'pm2.pid'), 'utf8').trim());
  }

  /** Stops every app and the daemon. */
  async kill(): Promise<void> {
    await this.run(['kill'], 60_000);
  }
}
