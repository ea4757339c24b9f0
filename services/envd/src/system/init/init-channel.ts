import { closeSync } from 'node:fs';
import { SystemError } from '../sandbox-system';
import { bodyStrings, decodeReply, decodeWaitStatus, encodeRequest, errnoName, InitOp, InitOpName, ReplyKind } from './init-protocol';

/** The addon's channel (native/src/seqpacket-channel.cc). */
interface NativeChannel {
  send(data: Buffer, fds?: number[]): void;
  close(): void;
  unref(): void;
}
interface ChannelAddon {
  SeqpacketChannel: new (path: string, onMessage: (data: Buffer, fds: number[]) => void, onClose: (reason?: string) => void) => NativeChannel;
  setWindowSize(fd: number, cols: number, rows: number): void;
}

let addon: ChannelAddon | undefined;
/** Loaded on first use: envd inside a guest (LocalSystem) never needs the native addon. */
export function channelAddon(): ChannelAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon ??= require('@wrenn/native') as ChannelAddon;
  return addon;
}

export interface InitReply {
  value: number;
  /** The body's strings (or, for a chunked answer, every chunk's). */
  strings: string[];
  /** Descriptors that came with the answer: the caller's to check and close. */
  fds: number[];
}

export interface InitChannelOptions {
  /** Most a request may take before it fails with ETIMEDOUT. */
  timeoutMs?: number;
  /** A channel with nothing in flight is closed after this long (reopened on the next request). */
  idleMs?: number;
  /** Most bytes a chunked answer (readdir) may have in all. */
  maxAnswerBytes?: number;
}

interface Pending {
  op: InitOpName;
  resolve(reply: InitReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  chunks: Buffer[];
  size: number;
}

export type ExitListener = (end: { code: number | null; signal: NodeJS.Signals | null }) => void;

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_IDLE_MS = 5_000;
const DEFAULT_MAX_ANSWER = 16 * 1024 * 1024;

/**
 * Requests to one sandbox's init over its socket: ids, one timeout per request, chunked answers
 * gathered, ends of spawned processes delivered to their listeners. The socket is opened on
 * demand and closed when idle (no request in flight, no process whose end is awaited), so a host
 * with a thousand idle sandboxes holds no fd for them. A lost connection is reopened: the init
 * reports later ends on whichever connection is current.
 */
export class InitChannel {
  private channel: NativeChannel | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly exits = new Map<number, ExitListener>();
  private idleTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly outbox: Array<{ id: number; packet: Buffer }> = [];
  private closed = false;

  constructor(
    readonly socketPath: string,
    private readonly options: InitChannelOptions = {},
  ) {}

  /** One request; answers the OK reply (fds are the caller's) or rejects with the errno the init named. */
  request(op: InitOpName, args: string[], onExit?: ExitListener): Promise<InitReply> {
    if (this.closed) return Promise.reject(new SystemError('ECANCELED', 'the init channel is closed'));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fff0 ? 1 : this.nextId + 1;
    let packet: Buffer;
    try {
      packet = encodeRequest(id, InitOp[op], args);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<InitReply>((resolve, reject) => {
      const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const timer = setTimeout(() => this.settle(id, new SystemError('ETIMEDOUT', `the init did not answer ${op} within ${timeoutMs} ms`)), timeoutMs);
      const pending: Pending = {
        op,
        resolve: (reply) => {
          if (onExit) this.exits.set(id, onExit);
          resolve(reply);
        },
        reject,
        timer,
        chunks: [],
        size: 0,
      };
      this.pending.set(id, pending);
      clearTimeout(this.idleTimer);
      this.outbox.push({ id, packet });
      this.flush();
    });
  }

  /**
   * Sends what waits, in order. A full socket buffer (EAGAIN: the init is behind) is retried
   * shortly, the requests' own timeouts still running; any other failure fails the request.
   */
  private flush(): void {
    while (this.outbox.length) {
      const { id, packet } = this.outbox[0];
      if (!this.pending.has(id)) {
        this.outbox.shift(); // timed out while it waited
        continue;
      }
      try {
        this.connect().send(packet);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.flushTimer ??= setTimeout(() => {
            this.flushTimer = undefined;
            this.flush();
          }, 2);
          return;
        }
        this.outbox.shift();
        this.settle(id, asSystemError(error));
        continue;
      }
      this.outbox.shift();
    }
  }

  /** The ends of processes still awaited are answered as killed; nothing more is sent. */
  close(): void {
    this.closed = true;
    this.disconnect(new SystemError('ECANCELED', 'the init channel is closed'));
    for (const [id, listener] of this.exits) {
      this.exits.delete(id);
      listener({ code: null, signal: 'SIGKILL' });
    }
  }

  get busy(): boolean {
    return this.pending.size > 0 || this.exits.size > 0;
  }

  private connect(): NativeChannel {
    if (this.channel) return this.channel;
    const { SeqpacketChannel } = channelAddon();
    let channel: NativeChannel;
    try {
      channel = new SeqpacketChannel(
        this.socketPath,
        (data, fds) => this.onMessage(data, fds),
        (reason) => this.onLost(channel, reason),
      );
    } catch (error) {
      // No socket, or no init behind it: the sandbox is not running (never a file's ENOENT).
      throw new SystemError('ECONNREFUSED', `the sandbox's init is not reachable at ${this.socketPath}: ${(error as Error).message}`);
    }
    this.channel = channel;
    return channel;
  }

  private onMessage(data: Buffer, fds: number[]): void {
    try {
      this.deliver(data, fds);
    } catch {
      closeAll(fds);
    }
  }

  private deliver(data: Buffer, fds: number[]): void {
    const reply = decodeReply(data);
    if (!reply) return closeAll(fds);
    if (reply.kind === ReplyKind.exit) {
      closeAll(fds);
      const listener = this.exits.get(reply.id);
      if (listener) {
        this.exits.delete(reply.id);
        listener(decodeWaitStatus(reply.value));
      } else if (this.pending.has(reply.id)) {
        // The child for a request ended without answering it.
        this.settle(reply.id, new SystemError('EIO', `the init's worker for ${this.pending.get(reply.id)!.op} ended without an answer`));
      }
      this.maybeIdle();
      return;
    }
    const pending = this.pending.get(reply.id);
    if (!pending) return closeAll(fds); // timed out already: whatever came is not wanted
    if (reply.kind === ReplyKind.more) {
      closeAll(fds);
      pending.size += reply.body.length;
      if (pending.size > (this.options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER)) return this.settle(reply.id, new SystemError('E2BIG', `the answer to ${pending.op} is too long`));
      pending.chunks.push(Buffer.from(reply.body));
      return;
    }
    if (reply.kind === ReplyKind.error) {
      closeAll(fds);
      return this.settle(reply.id, new SystemError(errnoName(reply.value), `${pending.op}: ${reply.body.subarray(0, 200).toString('utf8').replace(/\0.*$/s, '')} failed (${errnoName(reply.value)})`));
    }
    let strings: string[];
    try {
      strings = pending.chunks.length ? bodyStrings(Buffer.concat([...pending.chunks, reply.body])) : bodyStrings(reply.body);
    } catch (error) {
      closeAll(fds);
      return this.settle(reply.id, asSystemError(error));
    }
    this.settle(reply.id, undefined, { value: reply.value, strings, fds });
  }

  private settle(id: number, error: Error | undefined, reply?: InitReply): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(reply!);
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.busy || !this.channel) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (!this.busy) this.disconnect();
    }, this.options.idleMs ?? DEFAULT_IDLE_MS);
    this.idleTimer.unref();
  }

  private disconnect(error?: Error): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.outbox.length = 0;
    this.channel?.close();
    this.channel = undefined;
    if (error) for (const id of [...this.pending.keys()]) this.settle(id, error);
  }

  /**
   * The connection broke: requests in flight fail; processes still running are awaited on a new
   * connection, unless the init is gone (then they are gone with it).
   */
  private onLost(channel: NativeChannel, reason?: string): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    for (const id of [...this.pending.keys()]) this.settle(id, new SystemError('ECONNRESET', `the connection to the sandbox's init was lost${reason ? `: ${reason}` : ''}`));
    if (!this.exits.size || this.closed) return;
    try {
      this.connect();
    } catch {
      for (const [id, listener] of this.exits) {
        this.exits.delete(id);
        listener({ code: null, signal: 'SIGKILL' });
      }
    }
  }
}

function closeAll(fds: number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      /* not ours to worry about */
    }
  }
}

export function closeFds(fds: number[]): void {
  closeAll(fds);
}

function asSystemError(error: unknown): SystemError {
  if (error instanceof SystemError) return error;
  const e = error as NodeJS.ErrnoException;
  return new SystemError(typeof e?.code === 'string' ? e.code : 'EIO', e?.message ?? String(error));
}
