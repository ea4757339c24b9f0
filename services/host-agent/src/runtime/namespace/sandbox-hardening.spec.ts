import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_ID_BASE, IDS_PER_SANDBOX, idRangeOf, overlappingHostIds, SECCOMP_PROFILE } from './sandbox-hardening';

describe('sandbox hardening', () => {
  it('gives each range 65,536 host ids, disjoint from every other range and from the host root', () => {
    const a = idRangeOf(0);
    const b = idRangeOf(1);
    assert.deepEqual(a, { hostRoot: DEFAULT_ID_BASE, count: IDS_PER_SANDBOX });
    assert.equal(b.hostRoot, a.hostRoot + a.count, 'adjacent, not overlapping');
    assert.throws(() => idRangeOf(-1));
    assert.throws(() => idRangeOf(1.5));
    assert.throws(() => idRangeOf(50_000), /below 2\^32/);
  });

  it('finds host accounts inside the sandbox id ranges', () => {
    const passwd = `root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nodd:x:${DEFAULT_ID_BASE + 70_000}:0::/:/bin/sh\n`;
    assert.deepEqual(overlappingHostIds({ '/etc/passwd': passwd }, DEFAULT_ID_BASE, 2), [`/etc/passwd: odd (${DEFAULT_ID_BASE + 70_000})`]);
    assert.deepEqual(overlappingHostIds({ '/etc/passwd': passwd }, DEFAULT_ID_BASE, 1), []);
  });

  it("keeps Docker's default denials in the seccomp profile", () => {
    const allowed = new Set(
      readFileSync(SECCOMP_PROFILE, 'utf8')
        .split('\n')
        .filter((l) => /^allow(-if)? /.test(l))
        .flatMap((l) => (l.startsWith('allow-if') ? [l.split(/\s+/)[1]] : l.split(/\s+/).slice(1))),
    );
    for (const denied of ['mount', 'umount2', 'unshare', 'setns', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'userfaultfd', 'kexec_load', 'init_module', 'finit_module', 'open_by_handle_at', 'io_uring_setup', 'pivot_root', 'swapon', 'reboot', 'clone3', 'fsopen', 'open_tree', 'move_mount']) {
      assert.ok(!allowed.has(denied), `${denied} must not be allowed`);
    }
    for (const needed of ['read', 'execve', 'clone', 'socket', 'ptrace', 'chroot']) assert.ok(allowed.has(needed), `${needed} is allowed`);
  });
});
