import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import { logFile, logName, logsDir } from '../statedir/index.js';

/** Prints a line; false when it was dropped because the reader is not keeping up. */
export type Echo = (line: string) => boolean | void;

export interface OutputOptions {
  /** The state dir, whose logs folder gets `<profile>.log`. */
  stateDir: string;
  /** Rotate at this size ("10M"). */
  maxSize: string;
  /** Rotated files to keep: `<profile>.log.1` .. `<profile>.log.<keep>`. */
  keep: number;
  /** Where each line also goes, already prefixed with the profile name. */
  echo: Echo;
  /** A write to the log file failed (a full disk): said once until a write succeeds again. */
  onFileError?: (message: string) => void;
}

/** Unwritten output the supervisor lets pile up for a stalled reader before it drops lines. */
export const DEFAULT_MAX_PENDING_BYTES = 1024 * 1024;

/**
 * The supervisor's own output, best effort: while whoever reads it (a pipe, a terminal) keeps more
 * than maxPendingBytes unread, lines are dropped instead of buffered, so a stalled reader cannot
 * grow the supervisor's memory without bound. The log files stay complete.
 */
export class BoundedPrinter {
  /** Lines dropped so far. */
  dropped = 0;

  constructor(
    private readonly stream: Writable,
    private readonly maxPendingBytes = DEFAULT_MAX_PENDING_BYTES,
  ) {}

  readonly print = (line: string): boolean => {
    if (!this.stream.writable || this.stream.writableLength > this.maxPendingBytes) {
      this.dropped += 1;
      return false;
    }
    this.stream.write(`${line}\n`);
    return true;
  };
}

/** A gateway's stdout and stderr: to `<state_dir>/logs/<profile>.log` (rotated by size) and to the supervisor's output. */
export class GatewayOutput {
  /** Lines that reached the log file but not the supervisor's output (its reader stalled). */
  dropped = 0;
  private readonly file: RotatingFileStream;
  private readonly prefix: string;
  private fileFailed = false;
  /** Readers paused until the log file drains (or fails: a full disk must not block a gateway for good). */
  private readonly paused = new Set<() => void>();

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
    const file = logFile(options.stateDir, profile);
    this.file.on('drain', () => this.resumeReaders());
    // A full disk must not take the supervisor down; the lines still reach its own output.
    this.file.on('error', (err: Error) => {
      this.resumeReaders();
      if (this.fileFailed) return;
      this.fileFailed = true;
      options.onFileError?.(err.message.includes(dir) ? err.message : `cannot write ${file}: ${err.message}`);
    });
    this.prefix = `${profile} | `;
  }

  attach(stream: Readable | null | undefined): void {
    if (!stream) return;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let waiting = false;
    const resume = () => {
      waiting = false;
      lines.resume();
    };
    lines.on('line', (line) => {
      const flowing = this.file.write(`${line}\n`, (err) => {
        if (!err) this.fileFailed = false;
      });
      // The log file must stay complete without its backlog growing in memory: a gateway that writes
      // faster than the disk takes waits on its pipe until the file has caught up.
      if (!flowing && !waiting && !this.fileFailed) {
        waiting = true;
        lines.pause();
        this.paused.add(resume);
      }
      if (this.options.echo(this.prefix + line) === false) this.dropped += 1;
    });
  }

  private resumeReaders(): void {
    for (const resume of this.paused) resume();
    this.paused.clear();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.file.end(resolve));
  }
}
