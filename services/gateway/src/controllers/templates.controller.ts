import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { CreateTemplateDto, DeprecatedSnapshotListView, TemplateListView, TemplateView } from '../dtos/template.dto';
import { TemplatesService } from '../services/templates.service';
import { CurrentCaller } from '../auth/access.decorators';
import type { Caller } from '../auth/caller';

/**
 * Templates of the caller's team (API key): what new sandboxes start from. Freeze a running
 * sandbox under a name, list them, delete one.
 */
@Controller('v1/templates')
export class TemplatesController {
  constructor(private readonly templates: TemplatesService) {}

  @Post()
  @HttpCode(201)
  create(@CurrentCaller() caller: Caller, @Body() body: CreateTemplateDto, @Headers('x-correlation-id') correlationId?: string): Promise<TemplateView> {
    return this.templates.create(caller, body, correlationId?.slice(0, 128) || undefined);
  }

  @Get()
  async list(@CurrentCaller() caller: Caller): Promise<TemplateListView> {
    return { templates: await this.templates.list(caller) };
  }

  @Delete(':name')
  delete(@CurrentCaller() caller: Caller, @Param('name') name: string, @Headers('x-correlation-id') correlationId?: string): Promise<TemplateView> {
    return this.templates.delete(caller, name, correlationId?.slice(0, 128) || undefined);
  }
}

/** Where clients of a deprecated route are sent (RFC 8288 link relation of draft-ietf-httpapi-deprecation-header). */
export const TEMPLATES_SUCCESSOR_LINK = '</v1/templates>; rel="successor-version"';

/**
 * Marks every answer of a deprecated route, refusals included (it runs before the guard and the
 * validation pipe), so a client sees the warning whatever it sent.
 */
export function markDeprecated(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Deprecation', 'true');
  res.setHeader('Link', TEMPLATES_SUCCESSOR_LINK);
  next();
}

/**
 * `/v1/snapshots`: the name the template API had before "snapshot" came to mean only a paused
 * sandbox's saved state. Kept for one release as an alias of `/v1/templates`; the list answers
 * under both keys so a client can move to `templates` before it moves to the new path.
 */
@Controller('v1/snapshots')
export class DeprecatedSnapshotsController {
  constructor(private readonly templates: TemplatesService) {}

  @Post()
  @HttpCode(201)
  create(@CurrentCaller() caller: Caller, @Body() body: CreateTemplateDto, @Headers('x-correlation-id') correlationId?: string): Promise<TemplateView> {
    return this.templates.create(caller, body, correlationId?.slice(0, 128) || undefined);
  }

  @Get()
  async list(@CurrentCaller() caller: Caller): Promise<DeprecatedSnapshotListView> {
    const templates = await this.templates.list(caller);
    return { templates, snapshots: templates };
  }

  @Delete(':name')
  delete(@CurrentCaller() caller: Caller, @Param('name') name: string, @Headers('x-correlation-id') correlationId?: string): Promise<TemplateView> {
    return this.templates.delete(caller, name, correlationId?.slice(0, 128) || undefined);
  }
}
