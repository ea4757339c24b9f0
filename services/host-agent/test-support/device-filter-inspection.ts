// Views of the device filter for tests only, from the test addon (native/src/test-device-filter.cc,
// built by `node scripts/build-native.mjs --test-guest`, which npm test runs).
import type { DeviceRule } from '@wrenn/host-agent/dist/cgroups/device-rule';

export interface DeviceFilterInspection {
  /** The program attachDeviceFilter would load for `rules`: struct bpf_insn, 8 bytes each. */
  deviceFilterProgram(rules: DeviceRule[]): Buffer;
  /** Ids of the BPF_CGROUP_DEVICE programs attached to the group itself. */
  attachedDevicePrograms(cgroupDir: string): number[];
  /** Whether the kernel still holds the program. */
  bpfProgramExists(id: number): boolean;
}

export function loadDeviceFilterInspection(): DeviceFilterInspection {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@wrenn/native/test-guest') as DeviceFilterInspection;
  } catch (error) {
    throw new Error(`the test addon is not built (npm test builds it; or run \`node scripts/build-native.mjs --test-guest\`): ${(error as Error).message}`);
  }
}

/** One decoded instruction. */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export function decodeProgram(buf: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < buf.length; i += 8) {
    const regs = buf.readUInt8(i + 1);
    // struct bpf_insn on little-endian x86: dst_reg is the low nibble.
    out.push({ code: buf.readUInt8(i), dst: regs & 0x0f, src: regs >> 4, off: buf.readInt16LE(i + 2), imm: buf.readInt32LE(i + 4) });
  }
  return out;
}

/** The request the kernel describes to the program (struct bpf_cgroup_dev_ctx, unpacked). */
export interface DeviceAccess {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Letters of "rwm" asked for at once. */
  access: string;
}

/** include/uapi/linux/bpf.h: BPF_DEVCG_ACC_* and BPF_DEVCG_DEV_*. */
const ACC = { m: 1, r: 2, w: 4 } as const;
const DEV = { b: 1, c: 2 } as const;

/**
 * Runs a device program on one request, the way the kernel would, for the few instructions a
 * device program needs; anything else is an error, so an unexpected instruction cannot pass
 * unnoticed. Returns r0 (1 allow, 0 deny).
 */
export function runDeviceProgram(prog: Insn[], request: DeviceAccess): number {
  const accessBits = [...request.access].reduce((bits, c) => bits | ACC[c as keyof typeof ACC], 0);
  const ctx = [((accessBits << 16) | DEV[request.type]) >>> 0, request.major, request.minor];
  const r: bigint[] = new Array(11).fill(0n);
  const u32 = (v: bigint) => v & 0xffffffffn;
  const u64 = (v: bigint) => v & 0xffffffffffffffffn;
  const CTX = -1n; // r1's value at entry: a pointer only loads may use
  r[1] = CTX;
  for (let pc = 0, steps = 0; ; pc++, steps++) {
    if (pc < 0 || pc >= prog.length) throw new Error(`pc ${pc} left the program`);
    if (steps > 10_000) throw new Error('program loops');
    const { code, dst, src, off, imm } = prog[pc];
    const jump = (taken: boolean) => {
      if (off < 0) throw new Error(`backward jump at ${pc}`);
      if (taken) pc += off;
    };
    switch (code) {
      case 0x61: // BPF_LDX | BPF_MEM | BPF_W
        if (r[src] !== CTX || off % 4 !== 0 || off < 0 || off > 8) throw new Error(`load at ${pc} outside the context`);
        r[dst] = BigInt(ctx[off / 4]);
        break;
      case 0x54: // BPF_ALU | BPF_AND | BPF_K
        r[dst] = u32(r[dst]) & u32(BigInt(imm));
        break;
      case 0x74: // BPF_ALU | BPF_RSH | BPF_K
        r[dst] = u32(r[dst]) >> BigInt(imm);
        break;
      case 0xbc: // BPF_ALU | BPF_MOV | BPF_X
        r[dst] = u32(r[src]);
        break;
      case 0xb7: // BPF_ALU64 | BPF_MOV | BPF_K (sign-extended)
        r[dst] = u64(BigInt(imm));
        break;
      case 0x55: // BPF_JMP | BPF_JNE | BPF_K
        jump(r[dst] !== u64(BigInt(imm)));
        break;
      case 0x5d: // BPF_JMP | BPF_JNE | BPF_X
        jump(r[dst] !== r[src]);
        break;
      case 0x95: // BPF_JMP | BPF_EXIT
        return Number(r[0]);
      default:
        throw new Error(`instruction 0x${code.toString(16)} at ${pc} is not one a device program uses`);
    }
  }
}

/** Indexes no path from the entry reaches (the verifier refuses a program that has any). */
export function unreachable(prog: Insn[]): number[] {
  const seen = new Set<number>();
  const todo = [0];
  while (todo.length) {
    const pc = todo.pop()!;
    if (seen.has(pc) || pc >= prog.length) continue;
    seen.add(pc);
    const { code, off } = prog[pc];
    if (code === 0x95) continue;
    todo.push(pc + 1);
    if ((code & 0x07) === 0x05) todo.push(pc + 1 + off);
  }
  return prog.map((_, i) => i).filter((i) => !seen.has(i));
}
