import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import { logName, logsDir } from '../statedir/index.js';

export interface OutputOptions {
  /** The state dir, whose logs folder gets `<profile>.log`. */
  stateDir: string;
  /** Rotate at this size ("10M"). */
  maxSize: string;
  /** Rotated files to keep: `<profile>.log.1` .. `<profile>.log.<keep>`. */
  keep: number;
  /** Where each line also goes, already prefixed with the profile name. */
  echo: (line: string) => void;
}

/** A gateway's stdout and stderr: to `<state_dir>/logs/<profile>.log` (rotated by size) and to the supervisor's output. */
export class GatewayOutput {
  private readonly file: RotatingFileStream;
  private readonly prefix: string;

  constructor(
    profile: string,
    private readonly options: OutputOptions,
  ) {
    const dir = logsDir(options.stateDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // In logrotate mode (`rotate`) the generator is called with the rotated file's number alone.
    this.file = createStream((rotated) => (typeof rotated === 'number' && rotated > 0 ? `${logName(profile)}.${rotated}` : logName(profile)), {
      path: dir,
      size: options.maxSize as `${number}M`,
      rotate: options.keep,
      mode: 0o600,
    });
    this.file.on('error', () => {
      // A full disk must not take the supervisor down; the lines still reach its own output.
    });
    this.prefix = `${profile} | `;
  }

  attach(stream: Readable | null | undefined): void {
    if (!stream) return;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      this.file.write(`${line}\n`);
      this.options.echo(this.prefix + line);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.file.end(resolve));
  }
}
