import { Module } from '@nestjs/common';
import { DataSourceCloser, ServiceKitModule } from '@wrenn/service-kit';
import { ProjectorService } from './projector.service';

/**
 * The projector: feeds the read models from the event log. It reads the log and writes the
 * projections; it appends nothing and serves no commands, so it needs no event store handle
 * (which would also create the stream, a right it does not have).
 */
@Module({
  imports: [ServiceKitModule.forRoot({ service: 'projector', database: true }), DataSourceCloser],
  providers: [ProjectorService],
})
export class ProjectorModule {}
