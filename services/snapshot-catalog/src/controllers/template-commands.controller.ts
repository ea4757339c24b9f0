import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { variable } from '@wrenn/config';
import {
  CatalogCommand,
  CreateTemplateRequest,
  DeleteTemplateRequest,
  failed,
  FailTemplateRequest,
  naming,
  ok,
  Reply,
  ServiceName,
  TemplateAccepted,
} from '@wrenn/contracts';
import { TemplateCatalogService } from '../services/template-catalog.service';

// Patterns are resolved when the module loads: WRENN_NS must be set before the service boots.
const subjects = naming(variable('WRENN_NS'));
const subject = (command: CatalogCommand) => subjects.commandSubject(ServiceName.SnapshotCatalog, command);

/** Template commands; replies are Reply envelopes, never transport errors. */
@Controller()
export class TemplateCommandsController {
  constructor(private readonly catalog: TemplateCatalogService) {}

  @MessagePattern(subject(CatalogCommand.CreateTemplate))
  create(@Payload() request: CreateTemplateRequest): Promise<Reply<TemplateAccepted>> {
    return this.catalog.create(request).then(ok, failed);
  }

  @MessagePattern(subject(CatalogCommand.FailTemplate))
  fail(@Payload() request: FailTemplateRequest): Promise<Reply<TemplateAccepted>> {
    return this.catalog.fail(request).then(ok, failed);
  }

  @MessagePattern(subject(CatalogCommand.DeleteTemplate))
  delete(@Payload() request: DeleteTemplateRequest): Promise<Reply<TemplateAccepted>> {
    return this.catalog.delete(request).then(ok, failed);
  }
}
