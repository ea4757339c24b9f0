import { Code, ConnectError, Transport } from '@connectrpc/connect';
import { processPb } from '@wrenn/proto';
import { createEnvdInstance, EnvdInstance, EnvdState, newEnvdState, SandboxSystem } from '@wrenn/envd';
import { chmod, rm, stat } from 'node:fs/promises';
import { Agent, createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createConnection, Socket } from 'node:net';

/** The header that names the sandbox a request on the envd host's socket is for (E2B's). */
export const ENVD_HOST_SANDBOX_HEADER = 'e2b-sandbox-id';

/** What the envd host needs to know of a sandbox it serves. */
export interface EnvdHostSandbox {
  /** The token its envd demands (from the sandbox's record). */
  accessToken?: string;
  /** Opens the way into the sandbox (its init's socket); closed again when the instance goes idle. */
  openSystem(): SandboxSystem;
}

export interface EnvdHostOptions {
  /** Finds a sandbox this host serves (after an agent restart, or for one started before); rejects when it is not here. */
  locate(sandboxId: string): Promise<EnvdHostSandbox>;
  /** How long an instance with nothing running stays built (default 30 s). */
  idleMs?: number;
  /** PATH of the processes started in sandboxes. */
  path?: string;
  /** The Unix socket the agent's own clients reach it on (see listen). */
  socketPath: string;
}

interface Entry {
  state: EnvdState;
  openSystem(): SandboxSystem;
  live?: { envd: EnvdInstance; system: SandboxSystem };
  lastUsed: number;
}

/**
 * One envd for every namespace sandbox on this host, inside the host agent: E2B's envd protocol
 * per sandbox, each one's work done inside it through its init (InitSystem), so no sandbox runs
 * a Node process of its own.
 *
 * A sandbox costs a map entry (its token, default user and /init env vars) while idle; the envd
 * instance (Connect router, process table, the init connection) is built on its first request
 * and dropped once nothing runs in it for `idleMs`, by one sweep for all sandboxes rather than a
 * timer each.
 */
export class EnvdHost {
  private readonly entries = new Map<string, Entry>();
  private readonly locating = new Map<string, Promise<Entry>>();
  private readonly idleMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private server: Server | undefined;
  private listening: Promise<void> | undefined;
  private sharedAgent: Agent | undefined;
  /** The inode of the socket this host bound: a later agent on the same path may have replaced it. */
  private socketIno: number | undefined;

  constructor(private readonly options: EnvdHostOptions) {
    this.idleMs = options.idleMs ?? 30_000;
    this.sweeper = setInterval(() => void this.sweep(), Math.max(1000, Math.min(this.idleMs, 10_000)));
    this.sweeper.unref();
  }

  /**
   * A sandbox's envd comes into being with its token: a direct call at start (and again at a warm
   * claim, with the claimed sandbox's new token), in place of health polls and POST /init.
   */
  open(sandboxId: string, sandbox: EnvdHostSandbox): void {
    const previous = this.entries.get(sandboxId);
    if (previous?.live) void this.closeLive(previous);
    this.entries.set(sandboxId, { state: newEnvdState({ accessToken: sandbox.accessToken }), openSystem: sandbox.openSystem, lastUsed: Date.now() });
  }

  /** The sandbox is gone (destroyed, paused, moved): its processes end with it, and its entry goes. */
  async forget(sandboxId: string): Promise<void> {
    const entry = this.entries.get(sandboxId);
    this.entries.delete(sandboxId);
    if (entry?.live) await this.closeLive(entry);
  }

  /** How many sandboxes have an entry, and how many of them have an instance built right now. */
  get counts(): { sandboxes: number; instances: number } {
    let instances = 0;
    for (const e of this.entries.values()) if (e.live) instances++;
    return { sandboxes: this.entries.size, instances };
  }

  private async entry(sandboxId: string): Promise<Entry> {
    const known = this.entries.get(sandboxId);
    if (known) return known;
    let pending = this.locating.get(sandboxId);
    if (!pending) {
      pending = this.options
        .locate(sandboxId)
        .then((sandbox) => {
          const entry = this.entries.get(sandboxId) ?? { state: newEnvdState({ accessToken: sandbox.accessToken }), openSystem: sandbox.openSystem, lastUsed: Date.now() };
          this.entries.set(sandboxId, entry);
          return entry;
        })
        .finally(() => this.locating.delete(sandboxId));
      this.locating.set(sandboxId, pending);
    }
    return pending;
  }

  /** Whether the sandbox is served here (known, or found by `locate`). */
  async has(sandboxId: string): Promise<boolean> {
    return this.entry(sandboxId).then(
      () => true,
      () => false,
    );
  }

  /**
   * Answers one envd request of a sandbox, in process. Rejects (nothing answered) when the
   * sandbox is not on this host.
   */
  async handle(sandboxId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { entry, live } = await this.live(sandboxId);
    res.once('close', () => (entry.lastUsed = Date.now()));
    live.envd.handle(req, res);
  }

  /**
   * A sandbox's envd Connect services (process, filesystem) for the agent's own calls, in
   * process: no HTTP request on the agent's socket, no parsing on either side of it. Each call
   * finds the sandbox's instance (built again if it was dropped while idle); a call for a sandbox
   * not on this host fails as the socket's 502 would, with nothing done.
   */
  transport(sandboxId: string): Transport {
    const instance = async () => {
      const { entry, live } = await this.reachable(sandboxId);
      return { transport: live.envd.transport, used: () => (entry.lastUsed = Date.now()) };
    };
    return {
      unary: async (...args) => {
        const { transport, used } = await instance();
        try {
          return await transport.unary(...args);
        } finally {
          used();
        }
      },
      stream: async (...args) => {
        const { transport, used } = await instance();
        used();
        return transport.stream(...args);
      },
    };
  }

  /**
   * process.Process/Start of a sandbox's envd called directly (EnvdInstance.startProcess): the
   * agent's exec path, with neither HTTP nor Connect between it and envd's handler.
   */
  startProcess(sandboxId: string, request: processPb.StartRequest, header: Headers, signal?: AbortSignal): AsyncIterable<processPb.StartResponse> {
    const reachable = () => this.reachable(sandboxId);
    return (async function* () {
      const { entry, live: instance } = await reachable();
      try {
        yield* instance.envd.startProcess(request, header, signal);
      } finally {
        entry.lastUsed = Date.now();
      }
    })();
  }

  /** As live, for in-process callers: a sandbox not here fails as the socket's 502 would, in a Connect client's terms. */
  private reachable(sandboxId: string): Promise<{ entry: Entry; live: NonNullable<Entry['live']> }> {
    return this.live(sandboxId).catch(() => {
      throw new ConnectError(`sandbox ${sandboxId} is not running on this host`, Code.Unavailable);
    });
  }

  private async live(sandboxId: string): Promise<{ entry: Entry; live: NonNullable<Entry['live']> }> {
    const entry = await this.entry(sandboxId);
    entry.lastUsed = Date.now();
    if (!entry.live) {
      const system = entry.openSystem();
      entry.live = { system, envd: createEnvdInstance({ system, state: entry.state, path: this.options.path }) };
    }
    return { entry, live: entry.live };
  }

  /** Drops the instances that ran nothing for `idleMs`; their sandboxes keep their entries. */
  async sweep(now = Date.now()): Promise<number> {
    const idle = [...this.entries.values()].filter((e) => e.live && !e.live.envd.busy && now - e.lastUsed >= this.idleMs);
    await Promise.all(idle.map((e) => this.closeLive(e)));
    return idle.length;
  }

  private async closeLive(entry: Entry): Promise<void> {
    const live = entry.live;
    entry.live = undefined;
    if (!live) return;
    await live.envd.close().catch(() => undefined);
    await live.system.close().catch(() => undefined);
  }

  /**
   * Serves every sandbox's envd on a Unix socket only root can open (the host agent's own file
   * transfers: envd's /files is plain HTTP; its RPCs go through transport and startProcess), the
   * sandbox named by E2b-Sandbox-Id; 502 when it is not here.
   */
  listen(): Promise<void> {
    this.listening ??= this.bind(this.options.socketPath).catch((error) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }

  private async bind(socketPath: string): Promise<void> {
    await rm(socketPath, { force: true });
    const server = createServer((req, res) => {
      const sandboxId = String(req.headers[ENVD_HOST_SANDBOX_HEADER] ?? '');
      this.handle(sandboxId, req, res).catch(() => {
        req.resume();
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 502, message: `sandbox ${sandboxId} is not running on this host` }));
      });
    });
    // Process output streams may stay open as long as the command runs.
    server.requestTimeout = 0;
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    // The socket alone keeps no process alive: the agent's own servers do (a runtime a test never
    // shuts down must not hang it).
    server.unref();
    server.on('connection', (socket) => socket.unref());
    await chmod(socketPath, 0o600);
    this.socketIno = (await stat(socketPath)).ino;
    this.server = server;
  }

  /**
   * The HTTP agent whose connections go to this host's socket, shared by the agent's clients of
   * every sandbox: a few kept-alive connections for the host, not one pool per sandbox.
   */
  agent(): Agent {
    if (!this.sharedAgent) {
      const path = this.options.socketPath;
      const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 16 });
      (agent as unknown as { createConnection: () => Socket }).createConnection = () => createConnection(path);
      this.sharedAgent = agent;
    }
    return this.sharedAgent;
  }

  /** Ends every instance (their processes with them) and the socket; the entries go too. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.sharedAgent?.destroy();
    this.sharedAgent = undefined;
    await Promise.all([...this.entries.values()].map((e) => this.closeLive(e)));
    this.entries.clear();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const path = this.options.socketPath;
    if (server && (await stat(path).catch(() => undefined))?.ino === this.socketIno) await rm(path, { force: true });
  }
}
