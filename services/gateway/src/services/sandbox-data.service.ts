import { create } from '@bufbuild/protobuf';
import { Inject, Injectable } from '@nestjs/common';
import { WrennConfig } from '@wrenn/config';
import { CONFIG } from '@wrenn/service-kit';
import { dataPlanePb } from '@wrenn/proto';
import { ActivityRecorder } from '../activity/activity.recorder';
import { DataPlaneClient, DataPlaneClients, fromConnect } from '../data-plane/data-plane.clients';
import { ErrorCode } from '@wrenn/contracts';
import { DirEntryView, ExecDto, ExecView } from '../dtos/sandbox.dto';
import { decodeListCursor, encodeListCursor } from './list-cursor';
import { SandboxesService } from './sandboxes.service';
import type { Caller } from '../auth/caller';

const { StreamWriteFileRequestSchema, ExecStreamRequestSchema } = dataPlanePb;

/** How often an open call re-records activity (the TTL's resolution is about a second anyway). */

export interface StreamExecStart {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  pty?: boolean;
  cols?: number;
  rows?: number;
  timeoutSec: number;
}

export type StreamExecInput =
  | { kind: 'stdin'; data: Uint8Array }
  | { kind: 'resize'; cols: number; rows: number }
  | { kind: 'signal'; signal: 'SIGTERM' | 'SIGKILL' }
  | { kind: 'eof' };

/**
 * Commands and files of running sandboxes, through the data plane of the host that holds each
 * one. No events: these calls change what is inside a sandbox, not its lifecycle. Bodies stream
 * chunk by chunk in both directions; nothing is held whole in the gateway.
 */
@Injectable()
export class SandboxDataService {
  constructor(
    private readonly sandboxes: SandboxesService,
    private readonly dataPlanes: DataPlaneClients,
    private readonly activity: ActivityRecorder,
    @Inject(CONFIG) private readonly config: WrennConfig,
  ) {}

  /**
   * A call counts as use for as long as it is open: a long command, upload, download or
   * interactive exec stream keeps its sandbox from being paused under it, even when nothing flows
   * for a while (the recorder throttles the writes).
   */
  private async whileBusy<T>(id: string, work: () => Promise<T>): Promise<T> {
    const release = this.activity.hold(id);
    try {
      return await work();
    } finally {
      release();
    }
  }

  private keepAlive<T>(id: string, source: AsyncIterable<T>): AsyncIterable<T> {
    const activity = this.activity;
    return (async function* () {
      const release = activity.hold(id);
      try {
        yield* source;
      } finally {
        release();
      }
    })();
  }

  private async client(caller: Caller, id: string, fresh = false) {
    const placement = await this.sandboxes.requireRunning(caller, id, fresh);
    return { client: await this.dataPlanes.forSandbox(placement.hostId, id), cached: placement.cached };
  }

  /**
   * Runs a call on the sandbox's host. When the host came from memory and answers that it does
   * not have the sandbox (it was paused, deleted or moved, and the event is still on its way),
   * the sandbox is read again from the read model and, if it still runs, the call goes once more
   * to the host the read names; otherwise the caller gets what the read says (409, 404), as it
   * would have without the memory. `call` must be safe to repeat after a `sandbox_not_found`:
   * the host refused it before doing anything.
   */
  private async onHost<T>(caller: Caller, id: string, call: (client: DataPlaneClient) => Promise<T>): Promise<T> {
    const { client, cached } = await this.client(caller, id);
    try {
      return await call(client);
    } catch (error) {
      const mapped = fromConnect(error);
      if (!cached || mapped.code !== ErrorCode.SandboxNotFound) throw mapped;
    }
    const again = await this.client(caller, id, true);
    try {
      return await call(again.client);
    } catch (error) {
      throw fromConnect(error);
    }
  }

  /**
   * For calls that cannot be repeated (their input is a stream): a `sandbox_not_found` from a
   * host that came from memory drops it and answers what the read model says instead.
   */
  private async explain(caller: Caller, id: string, cached: boolean, error: unknown): Promise<never> {
    const mapped = fromConnect(error);
    if (cached && mapped.code === ErrorCode.SandboxNotFound) await this.sandboxes.requireRunning(caller, id, true);
    throw mapped;
  }

  async exec(caller: Caller, id: string, dto: ExecDto): Promise<ExecView> {
    const res = await this.onHost(caller, id, (client) =>
      this.whileBusy(id, () =>
        client.exec(
          { sandboxId: id, timeoutSec: dto.timeout_sec, process: { cmd: dto.cmd, args: dto.args, env: dto.env ?? {}, cwd: dto.cwd ?? '', user: dto.user ?? '' } },
          { timeoutMs: dto.timeout_sec * 1000 + 10_000 },
        ),
      ),
    );
    return {
      stdout: Buffer.from(res.stdout).toString('utf8'),
      stderr: Buffer.from(res.stderr).toString('utf8'),
      exit_code: res.exitCode,
      timed_out: res.timedOut,
      truncated: res.truncated,
      duration_ms: res.durationMs,
    };
  }

  /** Streams `body` into a file in the sandbox. */
  async upload(caller: Caller, id: string, path: string, user: string | undefined, body: AsyncIterable<Uint8Array>): Promise<{ path: string; size: number }> {
    const { client, cached } = await this.client(caller, id);
    async function* messages() {
      yield create(StreamWriteFileRequestSchema, { msg: { case: 'header', value: { sandboxId: id, path, user: user ?? '' } } });
      for await (const chunk of body) yield create(StreamWriteFileRequestSchema, { msg: { case: 'chunk', value: chunk } });
    }
    try {
      const res = await this.whileBusy(id, () => client.streamWriteFile(messages(), { timeoutMs: 0 }));
      return { path: res.path, size: Number(res.size) };
    } catch (error) {
      return this.explain(caller, id, cached, error);
    }
  }

  /**
   * Opens a file in the sandbox for streaming out. The first chunk is awaited here, so a missing
   * file is an error before any response byte is sent.
   */
  async download(caller: Caller, id: string, path: string, user: string | undefined): Promise<AsyncIterable<Uint8Array>> {
    let iterator!: AsyncIterator<dataPlanePb.FileChunk>;
    const first = await this.onHost(caller, id, (client) => {
      iterator = client.streamReadFile({ sandboxId: id, path, user: user ?? '' }, { timeoutMs: 0 })[Symbol.asyncIterator]();
      return iterator.next();
    });
    return this.keepAlive(id, (async function* () {
      try {
        if (first.done) return;
        yield first.value.data;
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value.data;
      } finally {
        // A reader that stops early (the client hung up) must cancel the data-plane stream too.
        await iterator.return?.().catch(() => undefined);
      }
    })());
  }

  /**
   * One page of a directory listing: at most `limit` entries (never more than
   * WRENN_LIST_DIR_PAGE_MAX), in path order, and the cursor of the next page when there is one.
   * The host agent cuts the page, so neither the data plane's answer nor ours grows with the
   * directory.
   */
  async list(caller: Caller, id: string, query: { path: string; depth: number; user?: string; limit?: number; cursor?: string }): Promise<{ entries: DirEntryView[]; next_cursor: string | null }> {
    const max = this.config.edge.listDirPageMax;
    const limit = Math.min(query.limit ?? max, max);
    const after = query.cursor ? decodeListCursor(query.cursor, query.path, query.depth) : '';
    const res = await this.onHost(caller, id, (client) => client.listDir({ sandboxId: id, path: query.path, depth: query.depth, user: query.user ?? '', limit, after }));
    const entries = res.entries.map((e) => ({
      name: e.name,
      path: e.path,
      type: e.type,
      size: Number(e.size),
      mode: e.mode,
      modified_at: e.modifiedAt,
      ...(e.symlinkTarget ? { symlink_target: e.symlinkTarget } : {}),
    }));
    return { entries, next_cursor: res.nextAfter ? encodeListCursor(query.path, query.depth, res.nextAfter) : null };
  }

  /**
   * An interactive command: `input` feeds stdin, resizes and signals; the returned iterable
   * yields what the command prints and finally its exit.
   */
  async execStream(caller: Caller, id: string, start: StreamExecStart, input: AsyncIterable<StreamExecInput>, signal: AbortSignal): Promise<AsyncIterable<dataPlanePb.ExecStreamResponse>> {
    const { client, cached } = await this.client(caller, id);
    async function* requests() {
      yield create(ExecStreamRequestSchema, {
        msg: {
          case: 'start',
          value: {
            sandboxId: id,
            timeoutSec: start.timeoutSec,
            process: { cmd: start.cmd, args: start.args, env: start.env ?? {}, cwd: start.cwd ?? '', user: start.user ?? '', pty: !!start.pty, cols: start.cols ?? 80, rows: start.rows ?? 24 },
          },
        },
      });
      for await (const item of input) {
        if (item.kind === 'stdin') yield create(ExecStreamRequestSchema, { msg: { case: 'stdin', value: item.data } });
        else if (item.kind === 'resize') yield create(ExecStreamRequestSchema, { msg: { case: 'resize', value: { cols: item.cols, rows: item.rows } } });
        else if (item.kind === 'signal') yield create(ExecStreamRequestSchema, { msg: { case: 'signal', value: item.signal } });
        else yield create(ExecStreamRequestSchema, { msg: { case: 'closeStdin', value: true } });
      }
    }
    const responses = client.execStream(requests(), { signal, timeoutMs: 0 });
    const explain = (error: unknown) => this.explain(caller, id, cached, error);
    return this.keepAlive(id, (async function* () {
      try {
        yield* responses;
      } catch (error) {
        if (cached && fromConnect(error).code === ErrorCode.SandboxNotFound) await explain(error);
        throw error;
      }
    })());
  }
}
