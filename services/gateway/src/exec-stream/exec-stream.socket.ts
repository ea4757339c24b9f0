import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { IncomingMessage, Server, STATUS_CODES } from 'node:http';
import { Duplex } from 'node:stream';
import { RawData, WebSocket, WebSocketServer } from 'ws';
import { fromConnect } from '../data-plane/data-plane.clients';
import { HTTP_STATUS } from '../errors/http-status';
import type { Caller } from '../auth/caller';
import { SandboxDataService, StreamExecInput, StreamExecStart } from '../services/sandbox-data.service';
import { isEnvMap, USER_RE } from '../dtos/sandbox.dto';

/** The route as the OpenAPI document names it; PATH_RE is its matcher. */
export const EXEC_STREAM_ROUTE = '/v1/sandboxes/{id}/exec/stream';
export const PATH_RE = /^\/v1\/sandboxes\/([^/?]+)\/exec\/stream$/;

/**
 * The protocol of GET /v1/sandboxes/{id}/exec/stream (WebSocket), JSON text frames:
 *   client → {"type":"start","cmd","args","env","cwd","user","pty","cols","rows","timeout_sec"} first,
 *            then {"type":"stdin","data":<base64>} (or a binary frame of raw stdin),
 *            {"type":"resize","cols","rows"}, {"type":"signal","signal":"SIGTERM"|"SIGKILL"}, {"type":"eof"}
 *   server → {"type":"started","pid"}, {"type":"stdout"|"stderr","data":<base64>},
 *            {"type":"exit","exit_code","timed_out"} then close; {"type":"error","code","message"} on failure.
 */
/**
 * What the client sent, waiting for the command. Bounded: past `highBytes` of stdin not yet taken
 * by the data plane the socket is paused (TCP pushes back on the client) and resumed once the
 * command has taken it down to `lowBytes`, so a client cannot grow the gateway's memory by writing
 * faster than the command reads.
 */
export class InputQueue implements AsyncIterable<StreamExecInput> {
  private readonly items: StreamExecInput[] = [];
  private wake: (() => void) | undefined;
  private done = false;
  private pendingBytes = 0;
  private paused = false;
  /** Control messages (resize, signal, eof, empty stdin) waiting: they carry no bytes to push back on. */
  private pendingControl = 0;
  /** The most control messages ever waiting at once (what the cap holds down). */
  maxPendingControl = 0;

  constructor(private readonly flow: { pause(): void; resume(): void; highBytes?: number; lowBytes?: number; controlMax?: number }) {}

  private static isControl(item: StreamExecInput): boolean {
    return item.kind !== 'stdin' || item.data.byteLength === 0;
  }

  /** Queues one message; a control message past the cap throws `control_flood` and queues nothing. */
  push(item: StreamExecInput) {
    if (InputQueue.isControl(item)) {
      if (this.pendingControl >= (this.flow.controlMax ?? CONTROL_QUEUE_MAX)) throw new ControlFlood('more control messages waiting than the stream holds');
      this.pendingControl += 1;
      this.maxPendingControl = Math.max(this.maxPendingControl, this.pendingControl);
    }
    this.items.push(item);
    if (item.kind === 'stdin') {
      this.pendingBytes += item.data.byteLength;
      if (!this.paused && this.pendingBytes > (this.flow.highBytes ?? INPUT_HIGH_BYTES)) {
        this.paused = true;
        this.flow.pause();
      }
    }
    this.wake?.();
  }

  end() {
    this.done = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      while (this.items.length) {
        const item = this.items.shift()!;
        if (InputQueue.isControl(item)) this.pendingControl -= 1;
        if (item.kind === 'stdin') {
          this.pendingBytes -= item.data.byteLength;
          if (this.paused && this.pendingBytes <= (this.flow.lowBytes ?? INPUT_LOW_BYTES)) {
            this.paused = false;
            this.flow.resume();
          }
        }
        yield item;
      }
      if (this.done) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/** Control messages one stream may have waiting for the command (WRENN_EXEC_CONTROL_QUEUE_MAX). */
const CONTROL_QUEUE_MAX = 64;

/**
 * WebSocket close code for a client that floods control messages: 1008 (policy violation), with
 * the reason `control_flood`, after an `error` frame with code `rate_limited`.
 */
export const CONTROL_FLOOD_CLOSE = { code: 1008, reason: 'control_flood' } as const;

export class ControlFlood extends WrennError {
  constructor(message: string) {
    super(ErrorCode.RateLimited, message, { close_code: CONTROL_FLOOD_CLOSE.code, close_reason: CONTROL_FLOOD_CLOSE.reason });
  }
}

/** Counts control messages in the current second; past `perSec` the stream is cut off. */
export class ControlRate {
  private second = 0;
  private count = 0;
  constructor(private readonly perSec: number, private readonly now: () => number = Date.now) {}
  hit(): void {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.count = 0;
    }
    if (++this.count > this.perSec) throw new ControlFlood(`more than ${this.perSec} control messages a second`);
  }
}

/** Limits of one exec stream (from the gateway's edge configuration). */
export interface ExecStreamLimits {
  controlPerSec: number;
  controlQueueMax: number;
  /** Takes one of the caller's live-stream slots (throws 429 `too_many_streams` when none is left); returns its release. */
  slot?: (caller: Caller) => () => void;
  /** Called with each stream's input queue (tests watch its high-water mark). */
  observe?: (queue: InputQueue) => void;
}

/** Stdin the gateway holds per stream before it stops reading the socket, and resumes below. */
const INPUT_HIGH_BYTES = 1024 * 1024;
const INPUT_LOW_BYTES = 256 * 1024;
/** Output queued for a slow client before the command's stream is paused, and resumed below. */
const OUTPUT_HIGH_BYTES = 4 * 1024 * 1024;
const OUTPUT_LOW_BYTES = 1024 * 1024;

/** Waits until a slow client has taken its output down to OUTPUT_LOW_BYTES (or has gone). */
export async function drained(ws: { readonly bufferedAmount: number; readonly readyState: number }, lowBytes = OUTPUT_LOW_BYTES): Promise<void> {
  while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > lowBytes) await new Promise((r) => setTimeout(r, 10));
}

function parseStart(raw: Record<string, unknown>): StreamExecStart {
  const bad = (message: string) => new WrennError(ErrorCode.ValidationFailed, message);
  if (typeof raw.cmd !== 'string' || raw.cmd.length === 0 || raw.cmd.length > 4096) throw bad('cmd must be a non-empty string');
  // Absent means the default; null is not absent (it is a client bug worth a 400).
  const args = raw.args === undefined ? [] : raw.args;
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw bad('args must be an array of strings');
  if (raw.env !== undefined && !isEnvMap(raw.env)) throw bad('env must map variable names ([A-Za-z_][A-Za-z0-9_]*) to strings');
  if (raw.cwd !== undefined && typeof raw.cwd !== 'string') throw bad('cwd must be a string');
  if (raw.user !== undefined && (typeof raw.user !== 'string' || !USER_RE.test(raw.user))) throw bad('user must be a valid account name');
  const timeout = raw.timeout_sec === undefined ? 0 : raw.timeout_sec;
  if (!Number.isInteger(timeout) || (timeout as number) < 0 || (timeout as number) > 86_400) throw bad('timeout_sec must be 0..86400');
  const size = (v: unknown) => (Number.isInteger(v) && (v as number) > 0 && (v as number) < 1000 ? (v as number) : undefined);
  return {
    cmd: raw.cmd,
    args: args as string[],
    env: raw.env as Record<string, string> | undefined,
    cwd: raw.cwd as string | undefined,
    user: raw.user as string | undefined,
    pty: raw.pty === true,
    cols: size(raw.cols),
    rows: size(raw.rows),
    timeoutSec: timeout as number,
  };
}

function send(ws: WebSocket, message: object): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

/** Answers an upgrade request with a plain HTTP error in the platform's error shape. */
function refuse(socket: Duplex, error: WrennError): void {
  const status = HTTP_STATUS[error.code] ?? 500;
  const body = JSON.stringify({ error: error.toBody() });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * Serves the exec WebSocket on the gateway's HTTP server. The upgrade is authenticated like any
 * REST call (`X-API-Key`) before the socket is accepted: a refused caller gets a 401, never a socket.
 */
export function attachExecStream(
  server: Server,
  data: SandboxDataService,
  authenticate: (req: IncomingMessage) => Promise<Caller>,
  log: Logger,
  limits: ExecStreamLimits = { controlPerSec: 100, controlQueueMax: CONTROL_QUEUE_MAX },
): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const match = PATH_RE.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!match) {
      refuse(socket, new WrennError(ErrorCode.NotFound, 'no such route'));
      return;
    }
    // A throw here would escape the HTTP server's 'upgrade' event and take the whole gateway down.
    let id: string;
    try {
      id = decodeURIComponent(match[1]);
    } catch {
      refuse(socket, new WrennError(ErrorCode.ValidationFailed, 'the sandbox id in the path is not valid percent-encoding'));
      return;
    }
    // The client may hang up while its key is checked; that must not become an unhandled error.
    socket.on('error', () => socket.destroy());
    authenticate(req)
      .then((who) => {
        // Counted before the upgrade, so a key at its cap gets a plain 429 rather than a socket;
        // given back when the socket closes, however the session ends (or the upgrade fails).
        if (socket.destroyed) return; // gone while its key was checked: nothing to count
        const release = limits.slot?.(who);
        if (release) socket.once('close', release);
        wss.handleUpgrade(req, socket, head, (ws) => void session(ws, id, who));
      })
      .catch((error) => refuse(socket, error instanceof WrennError ? error : new WrennError(ErrorCode.Internal, 'internal error')));
  });

  async function session(ws: WebSocket, id: string, who: Caller): Promise<void> {
    const input = new InputQueue({ pause: () => ws.pause(), resume: () => ws.resume(), controlMax: limits.controlQueueMax });
    limits.observe?.(input);
    const rate = new ControlRate(limits.controlPerSec);
    const abort = new AbortController();
    let started = false;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      const e = error instanceof WrennError ? error : fromConnect(error);
      send(ws, { type: 'error', code: e.code, status: HTTP_STATUS[e.code] ?? 500, message: e.message });
      if (e instanceof ControlFlood) {
        log.warn({ sandboxId: id, teamId: who.teamId }, 'exec stream cut off: control message flood');
        // Stop reading at once; the close handshake ends the socket, terminate() if it does not.
        ws.pause();
        ws.close(CONTROL_FLOOD_CLOSE.code, CONTROL_FLOOD_CLOSE.reason);
        setTimeout(() => ws.terminate(), 1000).unref();
        abort.abort();
        return;
      }
      ws.close(1011, e.code);
    };
    ws.on('close', () => {
      input.end();
      abort.abort();
    });
    // A frame ws refuses (too big, malformed) is reported here and the socket is closed with the
    // matching code; without a listener the error would be thrown and stop the gateway.
    ws.on('error', (error) => log.debug({ err: error, sandboxId: id }, 'exec stream client sent a bad frame'));
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      if (failed) return;
      try {
        if (isBinary) {
          input.push({ kind: 'stdin', data: new Uint8Array(raw as Buffer) });
          return;
        }
        const msg = JSON.parse(raw.toString()) as Record<string, unknown> | null;
        if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw new WrennError(ErrorCode.ValidationFailed, 'messages must be JSON objects');
        if (!started) {
          if (msg.type !== 'start') throw new WrennError(ErrorCode.ValidationFailed, 'the first message must be {"type":"start",…}');
          started = true;
          void run(parseStart(msg));
          return;
        }
        // Every message but stdin with bytes is control: it costs the gateway work and memory
        // without TCP pushing back, so its rate and its queue are capped.
        if (msg.type !== 'stdin' || !msg.data) rate.hit();
        switch (msg.type) {
          case 'stdin':
            input.push({ kind: 'stdin', data: Buffer.from(String(msg.data ?? ''), 'base64') });
            break;
          case 'resize': {
            // Checked here: a value the data plane cannot encode would fail the whole command as
            // internal. A terminal's size is an unsigned short (struct winsize).
            const valid = (v: unknown) => Number.isInteger(v) && (v as number) > 0 && (v as number) <= 65_535;
            if (!valid(msg.cols) || !valid(msg.rows)) throw new WrennError(ErrorCode.ValidationFailed, 'resize takes integer cols and rows, 1..65535');
            input.push({ kind: 'resize', cols: msg.cols as number, rows: msg.rows as number });
            break;
          }
          case 'signal':
            // Anything else (SIGINT, a typo) must not quietly become a SIGKILL.
            if (msg.signal !== 'SIGTERM' && msg.signal !== 'SIGKILL') throw new WrennError(ErrorCode.ValidationFailed, 'signal must be "SIGTERM" or "SIGKILL"');
            input.push({ kind: 'signal', signal: msg.signal });
            break;
          case 'eof':
            input.push({ kind: 'eof' });
            break;
          default:
            throw new WrennError(ErrorCode.ValidationFailed, `unknown message type ${String(msg.type)}`);
        }
      } catch (error) {
        fail(error instanceof SyntaxError ? new WrennError(ErrorCode.ValidationFailed, 'messages must be JSON') : error);
      }
    });

    async function run(start: StreamExecStart) {
      try {
        const output = await data.execStream(who, id, start, input, abort.signal);
        for await (const res of output) {
          const msg = res.msg;
          if (msg.case === 'startedPid') send(ws, { type: 'started', pid: msg.value });
          else if (msg.case === 'stdout' || msg.case === 'stderr') {
            send(ws, { type: msg.case, data: Buffer.from(msg.value).toString('base64') });
            // A client that reads slower than the command writes holds the command back (HTTP/2
            // flow control up to envd) instead of piling its output up in the gateway.
            if (ws.bufferedAmount > OUTPUT_HIGH_BYTES) await drained(ws);
          }
          else if (msg.case === 'exit') {
            send(ws, { type: 'exit', exit_code: msg.value.exitCode, timed_out: msg.value.timedOut });
            ws.close(1000, 'exit');
          }
        }
      } catch (error) {
        if (!abort.signal.aborted) {
          log.debug({ err: error, sandboxId: id }, 'exec stream failed');
          fail(error);
        }
      }
    }
  }
}
