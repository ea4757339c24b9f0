import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { processPb } from '@wrenn/proto';
import { AsyncQueue } from '../async-queue';
import { resolvePath } from '../paths';
import { SystemError } from '../system/sandbox-system';
import { Users } from '../users';
import { ManagedProcess, ProcessManager, ProcessNotice } from './process-manager';

const { Process, ProcessEventSchema, Signal } = processPb;
type Event = processPb.ProcessEvent;

/** E2B's SDKs ask for keepalives (seconds) so idle streams survive proxies. */
function keepaliveMs(ctx: HandlerContext): number | undefined {
  const raw = Number(ctx.requestHeader.get('keepalive-ping-interval'));
  return Number.isFinite(raw) && raw > 0 ? raw * 1000 : undefined;
}

function toEvent(notice: ProcessNotice): Event {
  if (notice.kind === 'data') {
    return create(ProcessEventSchema, { event: { case: 'data', value: { output: { case: notice.output.kind, value: notice.output.data } } } });
  }
  const end = notice.end;
  return create(ProcessEventSchema, { event: { case: 'end', value: { exitCode: end.exitCode, exited: end.exited, status: end.status, error: end.error } } });
}

/**
 * A process's events as a stream: start (pid), then output and the end, with keepalives. The
 * stream ending (client gone) does not stop the process: it can be re-attached with Connect.
 */
async function* events(proc: ManagedProcess, ctx: HandlerContext): AsyncGenerator<Event> {
  const queue = new AsyncQueue<Event>();
  queue.push(create(ProcessEventSchema, { event: { case: 'start', value: { pid: proc.pid } } }));
  const unsubscribe = proc.subscribe((notice) => {
    queue.push(toEvent(notice));
    if (notice.kind === 'end') queue.close();
  });
  const interval = keepaliveMs(ctx);
  const timer = interval ? setInterval(() => queue.push(create(ProcessEventSchema, { event: { case: 'keepalive', value: {} } })), interval) : undefined;
  const onAbort = () => queue.close();
  ctx.signal.addEventListener('abort', onAbort);
  try {
    yield* queue;
  } finally {
    if (timer) clearInterval(timer);
    ctx.signal.removeEventListener('abort', onAbort);
    unsubscribe();
  }
}

export function processService(manager: ProcessManager, users: Users, extraEnv: () => Record<string, string> = () => ({})): ServiceImpl<typeof Process> {
  return {
    async list() {
      return {
        processes: manager.list().map((p) => ({
          pid: p.pid,
          tag: p.options.tag,
          config: { cmd: p.options.cmd, args: p.options.args, envs: p.options.envs, cwd: p.options.cwd },
        })),
      };
    },

    async *start(req, ctx) {
      const config = req.process;
      if (!config?.cmd) throw new ConnectError('process.cmd is required', Code.InvalidArgument);
      const start = async () => {
        const user = await users.forSpawn(ctx.requestHeader);
        return manager.start({
          cmd: config.cmd,
          args: config.args,
          envs: { ...extraEnv(), ...config.envs },
          cwd: config.cwd ? resolvePath(config.cwd, user) : undefined,
          tag: req.tag,
          stdin: req.stdin ?? true,
          pty: req.pty ? { cols: req.pty.size?.cols ?? 80, rows: req.pty.size?.rows ?? 24 } : undefined,
          user,
        });
      };
      let proc: ManagedProcess;
      try {
        proc = await start();
      } catch (error) {
        // The account files changed since the user was resolved: resolved again from them, once.
        if (!(error instanceof SystemError && error.code === 'ESTALE')) throw error;
        users.forget();
        proc = await start();
      }
      for await (const event of events(proc, ctx)) yield { event };
    },

    async *connect(req, ctx) {
      const proc = manager.find(req.process?.selector ?? { case: undefined });
      for await (const event of events(proc, ctx)) yield { event };
    },

    async update(req) {
      const proc = manager.find(req.process?.selector ?? { case: undefined });
      if (req.pty?.size) proc.resize(req.pty.size.cols, req.pty.size.rows);
      return {};
    },

    async streamInput(requests) {
      let proc: ManagedProcess | undefined;
      for await (const req of requests) {
        switch (req.event.case) {
          case 'start':
            proc = manager.find(req.event.value.process?.selector ?? { case: undefined });
            break;
          case 'data': {
            if (!proc) throw new ConnectError('send the start event first', Code.FailedPrecondition);
            const input = req.event.value.input?.input;
            if (input?.value) proc.writeInput(input.value);
            break;
          }
          default:
            break; // keepalive
        }
      }
      return {};
    },

    async sendInput(req) {
      const proc = manager.find(req.process?.selector ?? { case: undefined });
      const input = req.input?.input;
      if (input?.value) proc.writeInput(input.value);
      return {};
    },

    async sendSignal(req) {
      const proc = manager.find(req.process?.selector ?? { case: undefined });
      if (req.signal === Signal.SIGKILL) proc.signal('SIGKILL');
      else if (req.signal === Signal.SIGTERM) proc.signal('SIGTERM');
      else throw new ConnectError('unsupported signal', Code.InvalidArgument);
      return {};
    },

    async closeStdin(req) {
      manager.find(req.process?.selector ?? { case: undefined }).closeStdin();
      return {};
    },
  };
}
