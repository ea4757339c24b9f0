import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { Readable } from 'node:stream';
import { CAPABILITY_NUMBERS, SANDBOX_CAPABILITIES, SECCOMP_PROFILE, sandboxHelperPath } from './sandbox-hardening';
import { signal } from './proc';

/** Everything the native helper needs to start one sandbox (see native/sandbox/wrenn-sandbox.c). */
export interface SandboxPlan {
  /** Host id of the sandbox's root and how many ids it has (its user namespace's map). */
  ids: { hostRoot: number; count: number };
  /** cgroup.procs files the sandbox is born in (every controller). */
  cgroupProcs: string[];
  netnsPath: string;
  /** Read-only layers, top first (template layers, then the base image). */
  lower: string[];
  /** Directory holding upper/ and work/ of the overlay: the sandbox's own disk. */
  disk: string;
  /** Empty host directory the overlay is mounted on. */
  merged: string;
  /** Empty host directory for the helper's staging mounts (private to the sandbox). */
  stage: string;
  hostname: string;
  /** Host files or directories bound into the root: read-only (the platform's) or writable. */
  binds: Array<{ source: string; target: string; readonly: boolean }>;
  /** Environment and command line of the sandbox's first program (paths inside the sandbox). */
  env: Record<string, string>;
  argv: string[];
  /**
   * Host path of the init's socket (in the sandbox's state dir). With it, the init runs no
   * program: PID 1 serves this socket (native/sandbox/init-agent.h), and `argv` may be empty.
   */
  agentSocket?: string;
  /** The helper's own output before the sandbox has its log (a host file only the agent reads). */
  consoleLog: string;
}

export interface LaunchedSandbox {
  /** The helper left as the sandbox's parent (outside its pid namespace, unprivileged). */
  supervisorPid: number;
  /** PID 1 of the sandbox, as the host sees it. */
  initPid: number;
}

/** A start the helper refused, with the step and the reason it gave (never a sandbox file's content). */
export class SandboxStartError extends Error {
  /** `pid`: what the helper had started before it failed (killed by then). */
  constructor(readonly step: string, message: string, readonly pid?: number) {
    super(`sandbox start failed at ${step}: ${message}`);
  }
}

const START_TIMEOUT_MS = 10_000;

/** The plan as the helper reads it: one "key<TAB>value" a line; no value may hold a tab or newline. */
export function renderPlan(plan: SandboxPlan): string {
  const lines: string[] = [];
  const add = (key: string, ...values: Array<string | number>) => {
    for (const v of values) if (/[\t\n\0]/.test(String(v))) throw new Error(`plan value for ${key} holds a tab, newline or NUL`);
    lines.push([key, ...values].join('\t'));
  };
  const map = `0 ${plan.ids.hostRoot} ${plan.ids.count}`;
  add('uidmap', map);
  add('gidmap', map);
  for (const file of plan.cgroupProcs) add('cgroup', file);
  add('oom', -1000);
  add('netns', plan.netnsPath);
  for (const layer of plan.lower) add('lower', layer);
  add('disk', plan.disk);
  add('merged', plan.merged);
  add('stage', plan.stage);
  add('hostname', plan.hostname);
  for (const b of plan.binds) add(b.readonly ? 'ro' : 'rw', b.source, b.target.replace(/^\/+/, ''));
  for (const cap of SANDBOX_CAPABILITIES) add('cap', CAPABILITY_NUMBERS[cap]);
  add('seccomp', SECCOMP_PROFILE);
  add('log', '/var/log/wrenn-init.log');
  for (const [k, v] of Object.entries(plan.env)) add('env', `${k}=${v}`);
  for (const a of plan.argv) add('arg', a);
  if (plan.agentSocket !== undefined) {
    // sockaddr_un holds 108 bytes with its NUL: a longer path can't be bound.
    if (!plan.agentSocket.startsWith('/') || Buffer.byteLength(plan.agentSocket) > 107) throw new Error(`agent socket path must be absolute and at most 107 bytes: ${plan.agentSocket}`);
    add('agent', plan.agentSocket);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Starts a sandbox with the native helper and answers once its first program runs (the helper's
 * status pipe closes on exec) or fails with the step the helper names. The helper is detached:
 * the sandbox outlives the agent and is re-adopted by its next start. Its argv carries the
 * merged dir so a half-started sandbox's helper can be found by it (see killByDir).
 */
export async function launchSandbox(plan: SandboxPlan): Promise<LaunchedSandbox> {
  const { helperPid, pid } = await runSandboxHelper(renderPlan(plan), plan.merged, plan.consoleLog);
  return { supervisorPid: helperPid, initPid: pid };
}

/**
 * Runs the native helper on a rendered plan (either of its modes) and answers its pid and the
 * pid it reported once the status pipe closes on exec; a refusal throws SandboxStartError with
 * the step the helper named (and the pid it had reported, if any). `tag` goes on its command
 * line, so a half-started helper can be found by it.
 */
export async function runSandboxHelper(planText: string, tag: string, consoleLog: string): Promise<{ helperPid: number; pid: number }> {
  const log = openSync(consoleLog, 'a', 0o600);
  let child;
  try {
    child = spawn(sandboxHelperPath(), [tag], {
      detached: true,
      stdio: ['pipe', log, log, 'pipe'],
      env: {},
    });
  } finally {
    closeSync(log);
  }
  const status = child.stdio[3] as Readable;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.once('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(planText);

  let text = '';
  const ended = new Promise<void>((done) => {
    status.on('data', (chunk: Buffer) => (text = (text + chunk.toString()).slice(-4096)));
    status.once('end', done);
    status.once('error', () => done());
    status.once('close', () => done());
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    ended.then(() => false),
    new Promise<boolean>((done) => (timer = setTimeout(() => done(true), START_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  status.destroy();
  const error = /^error ([^:]*): (.*)$/m.exec(text);
  const pid = Number(/^pid (\d+)$/m.exec(text)?.[1]) || undefined;
  const kill = async () => {
    if (child.pid) signal(child.pid, 'SIGKILL');
    if (pid) signal(pid, 'SIGKILL');
    await exited;
  };
  if (timedOut) {
    await kill();
    throw new SandboxStartError('start', `no answer within ${START_TIMEOUT_MS / 1000} s`, pid);
  }
  if (error) {
    await kill();
    throw new SandboxStartError(error[1], error[2], pid);
  }
  if (!child.pid || !pid) {
    await kill();
    throw new SandboxStartError('start', 'the helper ended without starting the sandbox');
  }
  // Started: it lives on its own from here (an agent restart re-adopts it).
  child.unref();
  return { helperPid: child.pid, pid };
}
