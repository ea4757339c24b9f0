import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { WrennConfig } from '@wrenn/config';
import { CONFIG } from '@wrenn/service-kit';
import type { Caller } from '../auth/caller';

/**
 * The live streams a key (or user) holds open on this gateway: event streams (SSE) and exec
 * WebSockets share one count, at most WRENN_MAX_STREAMS_PER_KEY. One count rather than one per
 * kind because both cost the same thing (a socket, a consumer or a command held open) and an
 * operator then has one number to reason about. The count is per gateway replica: a stream
 * lives on one replica, and it is its memory and sockets the cap protects.
 */
@Injectable()
export class StreamSlots {
  private readonly held = new Map<string, number>();

  constructor(@Inject(CONFIG) config: Pick<WrennConfig, 'edge'>) {
    this.max = config.edge.maxStreamsPerKey;
  }

  private readonly max: number;

  /** Takes a slot for the caller or throws 429 `too_many_streams`; the returned function gives it back (once). */
  acquire(caller: Caller): () => void {
    const holder = `${caller.actor.kind}:${caller.actor.id}`;
    const held = this.held.get(holder) ?? 0;
    if (held >= this.max) {
      throw new WrennError(ErrorCode.TooManyStreams, `this key has ${held} live streams open (event streams and exec streams), the most it may`, { max: this.max });
    }
    this.held.set(holder, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.held.get(holder) ?? 1) - 1;
      if (n <= 0) this.held.delete(holder);
      else this.held.set(holder, n);
    };
  }
}
