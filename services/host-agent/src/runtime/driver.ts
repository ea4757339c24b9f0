import { RuntimeKind, SandboxSpec } from '@wrenn/contracts';
import type { CgroupLimits, SandboxCgroup } from '../cgroups';

/**
 * What a driver is told of the sandbox's network slot: where to put the sandbox (its netns) and,
 * for a microVM, the guest link the slot was built with. Plain data: a driver never reaches the
 * network manager.
 */
export interface SlotView {
  index: number;
  netnsPath: string;
  sandboxIp: string;
  /** Nameservers the sandbox should use. */
  nameservers: string[];
  /** The guest side of the slot's TAP (microVMs): device, MAC and the kernel's `ip=` argument. */
  guest?: { tap: string; mac: string; ipBootArg: string };
}

/** Host ids of the sandbox's user namespace (or its VMM's): range `number` of the host's. */
export interface IdsView {
  number: number;
  hostRoot: number;
  count: number;
}

/** One start of a sandbox (create or resume), with every host resource it needs already made. */
export interface BootRequest<Root, Memory> {
  spec: SandboxSpec;
  /** The sandbox's directory on the host (root's, 0700). */
  dir: string;
  slot: SlotView;
  /** The root filesystem as the rootfs store made it (the driver's own shape: paths or a device). */
  root: Root;
  cgroup: SandboxCgroup;
  ids: IdsView;
  /** Environment the sandbox's first program starts with (envd's token when the driver hands it over at boot). */
  env: Record<string, string>;
  /** The memory to restore instead of booting (a paused microVM, or a template's). */
  memory?: Memory;
}

/**
 * A runtime as the lifecycle sees it: it starts, stops, freezes and snapshots the sandbox's
 * processes (or VM) and nothing else. Networks, root filesystems, cgroups, id ranges and envd
 * sessions are the lifecycle's (sandbox/lifecycle.ts): a driver only gets their result as plain
 * data, so it imports none of them.
 *
 * `boot` is all-or-nothing: what it started before a failure it stops itself.
 */
export interface SandboxDriver<Root, Booted, Memory = never> {
  readonly kind: RuntimeKind;
  /** How envd gets its access token: in the first program's environment, or by /init once it answers. */
  readonly envdToken: 'at-boot' | 'after-boot';
  /** The limits of the sandbox's cgroup (a VMM adds its own overhead and devices). */
  cgroupLimits(spec: SandboxSpec, root: Root): CgroupLimits;
  boot(request: BootRequest<Root, Memory>): Promise<Booted>;
  /**
   * Stops the sandbox's processes for good; gone already is success. Without `booted`, finds a
   * half-started one's by its dir. `scan: false` skips that search when the caller has already
   * emptied the sandbox's cgroup, which every process of the sandbox is born in (a pause); a
   * booted sandbox's are found from what `booted` records, without a search.
   */
  kill(booted: Booted | undefined, dir: string, options?: { scan?: boolean }): Promise<void>;
  isAlive(booted: Booted): Promise<boolean>;
  /**
   * Stops the sandbox where it stands for a snapshot, and lets it go on (a microVM's vCPUs).
   * Absent: the lifecycle freezes the sandbox's cgroup, which stops its processes just as well.
   */
  freeze?(booted: Booted): Promise<void>;
  thaw?(booted: Booted): Promise<void>;
}
