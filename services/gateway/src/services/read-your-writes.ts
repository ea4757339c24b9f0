import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { CommandMeta, ErrorCode, WrennError } from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { CheckpointWaiter } from '@wrenn/eventlog';
import { sendCommand } from '@wrenn/messaging';
import { commandDuration, readModelWait, timedStep } from '@wrenn/observability';
import { CONFIG } from '@wrenn/service-kit';
import { ulid } from 'ulid';
import type { Caller } from '../auth/caller';

/** The metadata of a new command: a fresh idempotency id, acting for the caller's team. */
export function commandMeta(caller: Caller, correlationId: string): CommandMeta {
  return { commandId: `cmd_${ulid().toLowerCase()}`, correlationId, actor: caller.actor, teamId: caller.teamId };
}

/**
 * Commands with read-your-writes: a command goes to its service over NATS, and the answer waits
 * until the named read model has committed the command's last event, so a GET right after sees
 * the new state. One LISTEN connection (CheckpointWaiter) serves the whole gateway.
 */
@Injectable()
export class ReadYourWrites implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly waiter: CheckpointWaiter;

  constructor(@Inject(CONFIG) private readonly config: WrennConfig) {
    this.waiter = new CheckpointWaiter(config.databaseUrl);
  }

  onApplicationBootstrap(): Promise<void> {
    return this.waiter.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.waiter.stop();
  }

  async send<T extends { seq: number }>(
    client: ClientProxy,
    subject: string,
    payload: unknown,
    options: { timeoutMs: number; service: string; projection: string },
  ): Promise<T> {
    try {
      // Labels from the subject (`…cmd.<service>.<command>`): a few fixed values, never an id.
      const [service, command] = subject.split('.').slice(-2);
      const accepted = await timedStep(commandDuration, { service, command }, () => sendCommand<T>(client, subject, payload, options.timeoutMs, options.service));
      await timedStep(readModelWait, { projection: options.projection }, () => this.catchUp(options.projection, accepted.seq));
      return accepted;
    } catch (error) {
      // A refused command may still have recorded its outcome (a failed create): show it too.
      const seq = error instanceof WrennError ? Number(error.details?.seq) : NaN;
      if (Number.isFinite(seq)) await this.catchUp(options.projection, seq).catch(() => undefined);
      throw error;
    }
  }

  private async catchUp(projection: string, seq: number): Promise<void> {
    if (!(await this.waiter.waitFor(projection, seq, this.config.readYourWritesTimeoutMs))) {
      throw new WrennError(ErrorCode.ProjectionLag, `the read model did not reach event ${seq} in time; the change was accepted`, { seq });
    }
  }
}
