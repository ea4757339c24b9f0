import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { IsOptional, IsString } from 'class-validator';
import type { Response } from 'express';
import { EventStreamService } from '../services/event-stream.service';
import { CurrentCaller } from '../auth/access.decorators';
import type { Caller } from '../auth/caller';

class EventsQuery {
  /** Stream sequence of the last event seen; the stream starts after it. */
  @IsOptional() @IsString()
  after?: string;
}

function sequence(raw: string, name: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(raw.trim())) {
    throw new WrennError(ErrorCode.ValidationFailed, `${name} must be a stream sequence (a non-negative integer)`, { [name]: raw });
  }
  return Number(raw.trim());
}

@Controller('v1/events')
export class EventsController {
  constructor(private readonly events: EventStreamService) {}

  /** Server-Sent Events. Last-Event-ID (sent by a reconnecting EventSource) wins over ?after=. */
  @Get()
  async stream(
    @CurrentCaller() caller: Caller,
    @Query() query: EventsQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const after = lastEventId !== undefined && lastEventId !== ''
      ? sequence(lastEventId, 'Last-Event-ID')
      : query.after !== undefined ? sequence(query.after, 'after') : undefined;
    await this.events.stream(caller, after, res);
  }
}
