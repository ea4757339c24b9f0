import { Inject, Injectable, Optional } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { LOGGER } from '@wrenn/service-kit';
import { CreateSandboxDto, SandboxView } from '../dtos/sandbox.dto';
import { networkPolicyFrom, SandboxesService } from '../services/sandboxes.service';
import type { Caller } from '../auth/caller';
import { E2bConnectDto, E2bNetworkUpdateDto, E2bListedSandbox, E2bListQuery, E2bNewSandboxDto, E2bPauseDto, E2bSandbox, E2bSandboxDetail, E2bSandboxMetric, E2bState } from './e2b.dto';
import { createFromE2b, networkFromE2b, e2bState, listFilterFromE2b, toE2bDetail, toE2bListed, toE2bMetric, toE2bSandbox } from './e2b.mapper';
import { EnvdAccessTokens } from './envd-access-tokens';
import { SandboxTrafficForwarder } from './sandbox-traffic.forwarder';

/** How a connect waits for a pause or resume already under way: each takes well under a second. */
export interface ResumeWait {
  totalMs: number;
  pollMs: number;
  /** How long a read model that does not show another client's resume yet is waited for. */
  lagMs: number;
}
export const E2B_RESUME_WAIT = 'wrenn.e2b-resume-wait';
const DEFAULT_RESUME_WAIT: ResumeWait = { totalMs: 60_000, pollMs: 50, lagMs: 5000 };

/**
 * E2B's sandbox operations on Wrenn's own use cases: every create, kill and read goes through
 * SandboxesService (the scheduler, the event log, the read model), so an E2B sandbox is an
 * ordinary Wrenn sandbox. This class only translates.
 */
@Injectable()
export class E2bSandboxesService {
  constructor(
    private readonly sandboxes: SandboxesService,
    private readonly tokens: EnvdAccessTokens,
    private readonly envd: SandboxTrafficForwarder,
    @Inject(LOGGER) private readonly log: Logger,
    @Optional() @Inject(E2B_RESUME_WAIT) private readonly resumeWait: ResumeWait = DEFAULT_RESUME_WAIT,
  ) {}

  async create(caller: Caller, body: E2bNewSandboxDto, correlationId?: string): Promise<E2bSandbox> {
    const wanted = createFromE2b(body);
    networkPolicyFrom(wanted.network); // a bad entry is 400 before anything is asked of Wrenn
    const dto = Object.assign(new CreateSandboxDto(), {
      template: wanted.template,
      timeout_sec: wanted.timeoutSec,
      network: { allow_out: wanted.network.allow_out, deny_out: wanted.network.deny_out },
      allow_internet_access: wanted.network.allow_internet_access,
    });
    const view = await this.sandboxes.create(caller, dto, correlationId);
    if (view.state !== 'running') {
      throw new WrennError(ErrorCode.HostOperationFailed, `sandbox ${view.id} did not start: ${view.failure_reason ?? view.state}`, { sandboxId: view.id });
    }
    if (Object.keys(wanted.envVars).length > 0) {
      try {
        await this.envd.initEnv(view.id, wanted.envVars);
      } catch (error) {
        // The create as a whole failed: do not leave a sandbox the caller never got an id for.
        await this.sandboxes.destroy(caller, view.id, correlationId).catch((undo) => this.log.warn({ sandboxId: view.id, err: undo }, 'could not destroy a half-made E2B sandbox'));
        throw error;
      }
    }
    return toE2bSandbox(view, this.tokens.tokenFor(view.id));
  }

  /** A sandbox as E2B sees it: gone (404) once it stopped or failed, as E2B forgets killed ones. */
  private async visible(caller: Caller, id: string): Promise<{ view: SandboxView; state: E2bState }> {
    const view = await this.sandboxes.get(caller, id);
    const state = e2bState(view.state);
    if (!state) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${id} not found (it is ${view.state})`);
    return { view, state };
  }

  async list(caller: Caller, query: E2bListQuery): Promise<E2bListedSandbox[]> {
    const filter = listFilterFromE2b(query);
    const views = await this.sandboxes.list(caller, { limit: 1000 });
    const listed: E2bListedSandbox[] = [];
    for (const view of views) {
      const state = e2bState(view.state);
      if (!state || !filter.states.has(state)) continue;
      if (filter.template && view.template !== filter.template) continue;
      if (filter.startedAfter !== undefined && Date.parse(view.created_at) <= filter.startedAfter) continue;
      listed.push(toE2bListed(view, state));
    }
    // The read model lists newest first.
    if (filter.order === 'asc') listed.reverse();
    return listed.slice(0, filter.limit);
  }

  async get(caller: Caller, id: string): Promise<E2bSandboxDetail> {
    const { view, state } = await this.visible(caller, id);
    return toE2bDetail(view, state, this.tokens.tokenFor(id));
  }

  async kill(caller: Caller, id: string, correlationId?: string): Promise<void> {
    await this.visible(caller, id);
    await this.sandboxes.destroy(caller, id, correlationId);
  }

  async metrics(caller: Caller, id: string): Promise<E2bSandboxMetric[]> {
    const { view, state } = await this.visible(caller, id);
    // A paused sandbox uses nothing; E2B answers an empty series.
    if (state !== 'running' || view.state !== 'running') return [];
    return [toE2bMetric(view, await this.sandboxes.metrics(caller, id))];
  }

  /**
   * E2B's connect: a running sandbox answers at once (200) with its access token; a paused one is
   * resumed first through Wrenn's resume (201), same id and files. A timeout in the body becomes
   * the sandbox's new inactivity timeout, as E2B extends its deadline on connect.
   */
  async connect(caller: Caller, id: string, body: E2bConnectDto, correlationId?: string): Promise<{ resumed: boolean; sandbox: E2bSandbox }> {
    let { view: current } = await this.visible(caller, id);
    // A pause under way (the TTL's, typically, as the user comes back): let it finish, then resume.
    if (current.state === 'pausing') current = await this.settled(caller, id, 'pausing');
    const resumed = current.state === 'paused' || current.state === 'resuming';
    if (current.state === 'resuming') {
      current = await this.settled(caller, id, 'resuming');
    } else if (current.state === 'paused') {
      try {
        current = await this.sandboxes.resume(caller, id, correlationId);
      } catch (error) {
        // Another client's connect resumed it first: join that resume instead of failing. The
        // read model may not show that resume yet, so "paused" is waited out for a short while.
        if (!(error instanceof WrennError && error.code === ErrorCode.InvalidState)) throw error;
        current = await this.settled(caller, id, 'resuming', this.resumeWait.lagMs);
      }
    }
    if (current.state !== 'running') {
      if (!e2bState(current.state)) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${id} not found (it is ${current.state})`);
      throw new WrennError(ErrorCode.HostOperationFailed, `sandbox ${id} did not resume: ${current.failure_reason ?? current.state}`, { sandboxId: id });
    }
    if (body.timeout !== undefined) await this.setTimeout(caller, id, body.timeout, correlationId);
    return { resumed, sandbox: toE2bSandbox(current, this.tokens.tokenFor(id)) };
  }

  /**
   * The sandbox once a pause or resume under way (someone else's) has ended, so that a connect
   * never hands out a sandbox whose envd is not answering yet. Bounded: past
   * `resumeWait.totalMs` it answers 409.
   */
  private async settled(caller: Caller, id: string, inFlight: 'pausing' | 'resuming', pausedLagMs = 0): Promise<SandboxView> {
    const started = Date.now();
    const until = started + this.resumeWait.totalMs;
    let sawInFlight = false;
    for (;;) {
      const view = await this.sandboxes.get(caller, id);
      sawInFlight ||= view.state === inFlight;
      // Still paused before the resume shows: the read model lagging (a resume that failed shows
      // paused only after it was seen resuming, or once the lag allowance is spent).
      const lagging = view.state === 'paused' && !sawInFlight && Date.now() - started < pausedLagMs;
      if (view.state !== inFlight && !lagging) return view;
      if (Date.now() >= until) throw new WrennError(ErrorCode.InvalidState, `sandbox ${id} is still ${inFlight}; connect again`, { state: view.state });
      await new Promise((r) => setTimeout(r, this.resumeWait.pollMs));
    }
  }

  /**
   * E2B's pause onto Wrenn's: the sandbox's files are kept, its processes end (the namespace
   * runtime has no memory snapshots), so asking to keep memory is refused rather than ignored.
   * Already paused (or pausing) is E2B's 409, which the SDK reports as `false`.
   */
  async pause(caller: Caller, id: string, body: E2bPauseDto, correlationId?: string): Promise<void> {
    if (body.memory === true) {
      throw new WrennError(ErrorCode.ValidationFailed, 'memory: pausing with memory is not supported; the files are kept, running processes are not', { field: 'memory' });
    }
    const { state } = await this.visible(caller, id);
    if (state === 'paused') throw new WrennError(ErrorCode.InvalidState, `sandbox ${id} is already paused`, { state });
    await this.sandboxes.pause(caller, id, correlationId);
  }

  /**
   * E2B's set timeout onto Wrenn's: E2B kills at now + timeout, Wrenn pauses after `timeout`
   * seconds of inactivity. The new value runs from now either way (setting it counts as use).
   */
  /** E2B's network update: the whole configuration, live (Wrenn's PUT /v1/sandboxes/{id}/network). */
  async updateNetwork(caller: Caller, id: string, body: E2bNetworkUpdateDto, correlationId?: string): Promise<void> {
    const policy = networkPolicyFrom(networkFromE2b(body.allow_internet_access, { allowOut: body.allowOut, denyOut: body.denyOut, rules: body.rules, egressProxy: body.egressProxy }));
    await this.visible(caller, id);
    await this.sandboxes.setNetwork(caller, id, policy, correlationId);
  }

  async setTimeout(caller: Caller, id: string, timeoutSec: number, correlationId?: string): Promise<void> {
    await this.visible(caller, id);
    await this.sandboxes.setTimeout(caller, id, timeoutSec, correlationId);
  }
}
