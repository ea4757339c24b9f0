import { Controller, Get, Inject, Res } from '@nestjs/common';
import { HostHeartbeat, isLive, Naming } from '@wrenn/contracts';
import { kvLatest } from '@wrenn/messaging';
import { NAMING, NATS } from '@wrenn/service-kit';
import type { Response } from 'express';
import { Public } from '../auth/access.decorators';
import { DatabaseHealthRepository } from '../repositories/database-health.repository';
import { NatsConnection } from 'nats';

interface Check {
  ok: boolean;
  error?: string;
  latency_ms?: number;
}

async function timed(fn: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  try {
    await fn();
    return { ok: true, latency_ms: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/**
 * 200 when NATS and PostgreSQL answer and at least one host is live; 503 otherwise. The public
 * `/healthz` says only ok or not (what a load balancer needs); the report of why — errors, hosts,
 * latencies — is `/v1/health`, for API keys only.
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    private readonly database: DatabaseHealthRepository,
  ) {}

  @Get('healthz')
  @Public()
  async health(@Res() res: Response): Promise<void> {
    const { ok } = await this.report();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded' });
  }

  @Get('v1/health')
  async details(@Res() res: Response): Promise<void> {
    const { ok, body } = await this.report();
    res.status(ok ? 200 : 503).json(body);
  }

  private async report(): Promise<{ ok: boolean; body: object }> {
    const [nats, postgres] = await Promise.all([
      timed(() => (this.nc.isClosed() ? Promise.reject(new Error('connection closed')) : this.nc.rtt())),
      timed(() => this.database.ping()),
    ]);
    const hosts = nats.ok ? await this.hosts().catch(() => []) : [];
    const now = Date.now();
    const live = hosts.filter((h) => isLive(h, now));
    const ok = nats.ok && postgres.ok && live.length > 0;
    return { ok, body: {
      status: ok ? 'ok' : 'degraded',
      nats,
      postgres,
      hosts: {
        live: live.length,
        items: hosts.map((h) => ({
          id: h.hostId,
          live: isLive(h, now),
          runtime: h.runtime,
          sandboxes: h.used.sandboxes,
          last_seen_ms_ago: now - h.at,
        })),
      },
    } };
  }

  private async hosts(): Promise<HostHeartbeat[]> {
    // The bucket exists once any service has opened it; the health check may run before that.
    await this.nc.jetstream().views.kv(this.naming.hostsBucket, { history: 1 });
    return (await kvLatest(this.nc, this.naming.hostsBucket)).map((entry) => entry.json<HostHeartbeat>());
  }
}
