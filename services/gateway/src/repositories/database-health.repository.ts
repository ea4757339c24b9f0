import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';

/** The health check's one statement: whether PostgreSQL answers this service's connection pool. */
@Injectable()
export class DatabaseHealthRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }
}
