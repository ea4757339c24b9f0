import { HostOp, Naming } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { serve } from '@wrenn/messaging';
import { hostClaimDuration, hostCreateDuration, hostDestroyDuration, hostResumeDuration, timed } from '@wrenn/observability';
import { NatsConnection, Subscription } from 'nats';
import { SandboxOrchestrator } from '../sandbox/sandbox-orchestrator';
import type { HostAdmission } from '../admission/host-admission';

/**
 * Serves host.<hostId>.<op> for this agent. Only this host's agent listens on its subjects, so
 * no queue group: a second agent with the same id would be a configuration error.
 */
export function serveHostCommands(nc: NatsConnection, naming: Naming, hostId: string, orchestrator: SandboxOrchestrator, log: Logger, admission?: HostAdmission): Subscription[] {
  const onError = (error: unknown) => log.error({ err: error }, 'host command failed');
  // A create or resume runs only if the host still has room on fresh figures (else 503 host_full).
  const admitted = <T>(memoryMb: number, work: () => Promise<T>) => (admission ? admission.admitting({ memoryMb }, work) : work());
  const on = <Req, Res>(op: HostOp, handler: (req: Req) => Promise<Res>) =>
    serve<Req, Res>(nc, naming.hostSubject(hostId, op), handler, { onError, traceAs: 'host-agent' });
  return [
    on(HostOp.Create, (req: Parameters<SandboxOrchestrator['create']>[0]) => timed(hostCreateDuration, { host: hostId }, () => admitted(req.spec.memoryMb, () => orchestrator.create(req)))),
    // A claim is admitted like a create: it gives a sandbox the limits it asked for.
    on(HostOp.Claim, (req: Parameters<SandboxOrchestrator['claim']>[0]) => timed(hostClaimDuration, { host: hostId }, () => admitted(req.spec.memoryMb, () => orchestrator.claim(req)))),
    on(HostOp.Destroy, (req: Parameters<SandboxOrchestrator['destroy']>[0]) => timed(hostDestroyDuration, { host: hostId }, () => orchestrator.destroy(req))),
    on(HostOp.List, () => orchestrator.list()),
    on(HostOp.Metrics, (req: { sandboxId: string }) => orchestrator.metrics(req)),
    on(HostOp.Pause, (req: Parameters<SandboxOrchestrator['pause']>[0]) => orchestrator.pause(req)),
    on(HostOp.Resume, (req: Parameters<SandboxOrchestrator['resume']>[0]) => timed(hostResumeDuration, { host: hostId }, () => admitted(req.spec.memoryMb, () => orchestrator.resume(req)))),
    on(HostOp.CreateTemplate, (req: Parameters<SandboxOrchestrator['createTemplate']>[0]) => orchestrator.createTemplate(req)),
    on(HostOp.SetNetwork, (req: Parameters<SandboxOrchestrator['setNetwork']>[0]) => orchestrator.setNetwork(req)),
    on(HostOp.DeleteTemplate, (req: Parameters<SandboxOrchestrator['deleteTemplate']>[0]) => orchestrator.deleteTemplate(req)),
  ];
}
