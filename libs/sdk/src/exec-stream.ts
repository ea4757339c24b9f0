import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { apiError, WrennApiError } from './errors';

/** The first frame of `GET /v1/sandboxes/{id}/exec/stream`. */
export interface ExecStreamStart {
  cmd: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  /** Run under a pseudo-terminal (stdout and stderr arrive merged as stdout). */
  pty?: boolean;
  cols?: number;
  rows?: number;
  timeout_sec?: number;
}

export interface ExecExit {
  exit_code: number;
  timed_out: boolean;
}

/**
 * One interactive command over the exec WebSocket. Emits `started` (pid), `stdout` and `stderr`
 * (Buffers), then `exit` ({exit_code, timed_out}) or `error` (WrennApiError); `done` settles
 * with the exit or rejects with the error, so callers that only want the outcome await it.
 */
export class ExecSession extends EventEmitter {
  readonly done: Promise<ExecExit>;
  private settled = false;

  constructor(private readonly ws: WebSocket, start: ExecStreamStart) {
    super();
    let resolveDone!: (exit: ExecExit) => void;
    let rejectDone!: (error: Error) => void;
    this.done = new Promise<ExecExit>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    // `done` is also the error channel: without a listener an 'error' event would throw.
    this.done.catch(() => undefined);
    const settle = (outcome: ExecExit | Error) => {
      if (this.settled) return;
      this.settled = true;
      if (outcome instanceof Error) {
        if (this.listenerCount('error') > 0) this.emit('error', outcome);
        rejectDone(outcome);
      } else {
        this.emit('exit', outcome);
        resolveDone(outcome);
      }
    };
    ws.on('open', () => ws.send(JSON.stringify({ type: 'start', ...start })));
    ws.on('unexpected-response', (_req, res) => {
      // The upgrade was refused (401, 404…): its body is the API's error.
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => settle(apiError(res.statusCode ?? 500, text, res.headers['retry-after'] as string | undefined)));
      res.on('error', (e) => settle(e));
    });
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return;
      }
      switch (msg.type) {
        case 'started':
          this.emit('started', msg.pid as number);
          break;
        case 'stdout':
        case 'stderr':
          this.emit(msg.type, Buffer.from(String(msg.data ?? ''), 'base64'));
          break;
        case 'exit':
          settle({ exit_code: Number(msg.exit_code), timed_out: Boolean(msg.timed_out) });
          break;
        case 'error':
          settle(new WrennApiError(Number(msg.status ?? 500), String(msg.code ?? 'internal'), String(msg.message ?? 'exec stream failed')));
          break;
      }
    });
    ws.on('error', (e) => settle(e));
    ws.on('close', (code, reason) => settle(new WrennApiError(502, 'stream_closed', `the exec stream closed before the command exited (${code} ${reason.toString()})`)));
  }

  /** Sends bytes to the command's stdin (as a binary frame: no base64 on the way in). */
  write(data: Buffer | Uint8Array | string): void {
    this.whenOpen(() => this.ws.send(typeof data === 'string' ? Buffer.from(data) : data, { binary: true }));
  }

  resize(cols: number, rows: number): void {
    this.whenOpen(() => this.ws.send(JSON.stringify({ type: 'resize', cols, rows })));
  }

  signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    this.whenOpen(() => this.ws.send(JSON.stringify({ type: 'signal', signal })));
  }

  /** Closes the command's stdin. */
  end(): void {
    this.whenOpen(() => this.ws.send(JSON.stringify({ type: 'eof' })));
  }

  /** Hangs up; the server stops the command. */
  close(): void {
    this.ws.close();
  }

  private whenOpen(send: () => void): void {
    if (this.ws.readyState === WebSocket.OPEN) send();
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.once('open', send);
  }
}
