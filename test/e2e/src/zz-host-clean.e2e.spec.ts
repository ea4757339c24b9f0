import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createdByRun, EMPTY_STATE, HostState, RUN_MARKER, snapshotHost } from './host-state';

/**
 * Runs after every other suite: whatever the run created on this host is gone again. The runner
 * (scripts/test.mjs) snapshots the host before the run (WRENN_HOST_BASELINE); what was there
 * then — an operator's Wrenn, leftovers of an earlier killed run — and whatever carries the
 * agent key of a Wrenn that was there is not counted. Processes are the run's by the marker the
 * runner puts in every test file's environment (the runner itself kills and fails a file that
 * leaves its own children running) or by a sandbox's name.
 */
const baselinePath = process.env.WRENN_HOST_BASELINE;
const baseline: HostState = baselinePath ? JSON.parse(readFileSync(baselinePath, 'utf8')) : EMPTY_STATE;
const runId = process.env[RUN_MARKER];
const left = createdByRun(baseline, snapshotHost({ runId }));
const why = baselinePath ? 'created by this run and not removed' : 'no baseline (run alone, not by npm test): everything Wrenn-looking counts';

describe(`host after the suite (${baselinePath ? 'against the baseline taken before the run' : 'no baseline'})`, () => {
  const cases: Array<[string, keyof HostState]> = [
    ['network namespaces', 'netns'],
    ['host links (veths, TAPs)', 'links'],
    ['firewall tables and rules (nftables; iptables filter and nat)', 'firewall'],
    ['mounts', 'mounts'],
    ['loop devices', 'loops'],
    ['device-mapper devices', 'dm'],
    ['cgroups (v1 controllers and the v2 hierarchy)', 'cgroups'],
    ['state directories of test platforms', 'stateDirs'],
    ['sandbox and test processes', 'processes'],
  ];
  for (const [what, kind] of cases) {
    it(`has no ${what} left`, () => {
      assert.deepEqual(left[kind], [], `${what} ${why}:\n  ${left[kind].join('\n  ')}`);
    });
  }

});
