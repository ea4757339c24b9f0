import { Module } from '@nestjs/common';
import { ServiceKitModule } from '@wrenn/service-kit';
import { StatusController } from './status.controller';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'auth' })],
  controllers: [StatusController],
})
export class AuthModule {}
