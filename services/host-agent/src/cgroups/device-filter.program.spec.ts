import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ALLOWED_DEVICES } from './cgroup.manager';
import { DeviceRule, parseDeviceRule } from './device-rule';
import { decodeProgram, DeviceAccess, Insn, loadDeviceFilterInspection, runDeviceProgram, unreachable } from '@wrenn/host-agent-test-support';

/**
 * The BPF_CGROUP_DEVICE program the native addon generates from allowlist rules, run here on an
 * interpreter of the few instructions it uses: it must answer exactly as the v1 devices cgroup
 * does for the same rules (an access is allowed when one rule covers its type, its numbers and
 * every access letter asked for at once), and keep to what the verifier accepts. Whether the
 * kernel agrees is device-filter.host.spec.ts's part.
 */
describe('device filter program (rules → eBPF)', () => {
  const inspect = loadDeviceFilterInspection();
  const compile = (rules: DeviceRule[]): Insn[] => decodeProgram(inspect.deviceFilterProgram(rules));
  const ACCESSES = ['r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm'];

  /** What devices.allow does with the same rules (the v1 semantics to match). */
  const v1Allows = (rules: DeviceRule[], q: DeviceAccess) =>
    rules.some((r) => (r.type === 'a' || r.type === q.type) && (r.major < 0 || r.major === q.major) && (r.minor < 0 || r.minor === q.minor) && [...q.access].every((c) => r.access.includes(c)));

  const assertVerifierShape = (prog: Insn[]) => {
    assert.deepEqual(unreachable(prog), [], 'every instruction is reachable');
    assert.equal(prog[prog.length - 1].code, 0x95, 'ends with exit');
    prog.forEach((insn, pc) => {
      if ((insn.code & 0x07) === 0x05 && insn.code !== 0x95) assert.ok(insn.off >= 0 && pc + 1 + insn.off < prog.length, `jump at ${pc} goes forward and stays inside`);
    });
  };

  it('encodes the context and one rule as the kernel reads them (bpf_cgroup_dev_ctx: access_type, major, minor)', () => {
    const hex = inspect.deviceFilterProgram([parseDeviceRule('c 1:3 rw')]).toString('hex').match(/.{16}/g);
    assert.deepEqual(hex, [
      '6112000000000000', // r2 = ctx->access_type
      '54020000ffff0000', // w2 &= 0xffff: the device type
      '6113000000000000', // r3 = ctx->access_type
      '7403000010000000', // w3 >>= 16: the access asked for
      '6114040000000000', // r4 = ctx->major
      '6115080000000000', // r5 = ctx->minor
      '5502070002000000', // if r2 != BPF_DEVCG_DEV_CHAR goto next rule
      'bc31000000000000', // w1 = w3
      '5401000006000000', // w1 &= READ | WRITE
      '5d31040000000000', // if r1 != r3 goto next rule (something else was asked for)
      '5504030001000000', // if r4 != 1 goto next rule
      '5505020003000000', // if r5 != 3 goto next rule
      'b700000001000000', // r0 = 1 (allow)
      '9500000000000000', // exit
      'b700000000000000', // r0 = 0 (deny)
      '9500000000000000', // exit
    ]);
  });

  it("answers as devices.allow does for the sandbox allowlist: every type, access and neighbouring number", () => {
    const rules = ALLOWED_DEVICES.map((r) => parseDeviceRule(r));
    const prog = compile(rules);
    assertVerifierShape(prog);
    let allowed = 0;
    let checked = 0;
    for (const type of ['c', 'b'] as const)
      for (const major of [0, 1, 2, 4, 5, 6, 10, 135, 136, 137, 254, 4095])
        for (const minor of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 232, 1048575])
          for (const access of ACCESSES) {
            const q = { type, major, minor, access };
            const want = v1Allows(rules, q) ? 1 : 0;
            assert.equal(runDeviceProgram(prog, q), want, JSON.stringify(q));
            allowed += want;
            checked++;
          }
    assert.ok(allowed > 0 && allowed < checked, `${allowed} of ${checked} allowed: the grid has both answers`);
    // The cases the sandbox relies on, by name.
    assert.equal(runDeviceProgram(prog, { type: 'c', major: 1, minor: 3, access: 'rw' }), 1, '/dev/null');
    assert.equal(runDeviceProgram(prog, { type: 'c', major: 136, minor: 7, access: 'rw' }), 1, 'a pty');
    assert.equal(runDeviceProgram(prog, { type: 'c', major: 10, minor: 232, access: 'r' }), 0, '/dev/kvm');
    assert.equal(runDeviceProgram(prog, { type: 'c', major: 1, minor: 1, access: 'r' }), 0, '/dev/mem');
    assert.equal(runDeviceProgram(prog, { type: 'b', major: 1, minor: 3, access: 'r' }), 0, 'a block device with an allowed char number');
  });

  it('denies everything with no rules, and allows everything after "a" (with nothing unreachable behind it)', () => {
    const none = compile([]);
    assertVerifierShape(none);
    const all = compile([parseDeviceRule('a'), parseDeviceRule('c 1:3 r')]);
    assertVerifierShape(all);
    for (const q of [
      { type: 'c', major: 1, minor: 3, access: 'r' },
      { type: 'b', major: 254, minor: 0, access: 'rwm' },
    ] as const) {
      assert.equal(runDeviceProgram(none, q), 0);
      assert.equal(runDeviceProgram(all, q), 1);
    }
  });

  it('answers as devices.allow does for any rules and any request', () => {
    const number = (max: number) => fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 3 }), fc.constant(max));
    const access = fc.constantFrom(...ACCESSES);
    const rule = fc.record({ type: fc.constantFrom('c', 'b', 'a'), major: number(4095), minor: number(1048575), access }) as fc.Arbitrary<DeviceRule>;
    const request = fc.record({ type: fc.constantFrom('c', 'b'), major: fc.constantFrom(0, 1, 2, 3, 4095), minor: fc.constantFrom(0, 1, 2, 3, 1048575), access }) as fc.Arbitrary<DeviceAccess>;
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 6 }), fc.array(request, { minLength: 1, maxLength: 20 }), (rules, requests) => {
        const prog = compile(rules);
        assertVerifierShape(prog);
        for (const q of requests) assert.equal(runDeviceProgram(prog, q), v1Allows(rules, q) ? 1 : 0, `${JSON.stringify(rules)} ${JSON.stringify(q)}`);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses rules the kernel could not mean', () => {
    for (const bad of [
      { type: 'x', major: 1, minor: 3, access: 'r' },
      { type: 'c', major: 4096, minor: 3, access: 'r' },
      { type: 'c', major: 1, minor: -2, access: 'r' },
      { type: 'c', major: 1.5, minor: 3, access: 'r' },
      { type: 'c', major: 1, minor: 3, access: 'rx' },
      { type: 'c', major: 1, minor: 3, access: '' },
      { type: 'c', major: 1, minor: 3, access: 'rr' },
    ]) {
      assert.throws(() => inspect.deviceFilterProgram([bad as DeviceRule]), TypeError, JSON.stringify(bad));
    }
  });
});
