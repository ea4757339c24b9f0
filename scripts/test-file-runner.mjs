// Runs one compiled spec file in its own process group under a deadline, for scripts/test.mjs.
//
// Why one process per file with our own deadline rather than `node --test` with timeouts: a
// node:test timeout fails the test but not the process — a server, socket or child a test left
// open keeps the event loop (and so `node --test`) waiting forever. Only killing the file's
// processes ends that. The file's process group catches the children it spawned; the run marker
// in their environment catches the ones that started their own group (playwright's browser, a
// detached server). Both are killed when the file ends, pass or fail, and listed.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPORTER = join(fileURLToPath(new URL('.', import.meta.url)), 'test-progress-reporter.mjs');
const KILL_GRACE_MS = 5_000;
const LEFTOVER_GRACE_MS = 3_000;

/** Processes whose environment carries `marker` (KEY=value), with their command lines. */
export function markedProcesses(marker) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker)) continue;
      out.push({ pid: Number(pid), args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 200) });
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Members of process group `pgid`. */
function groupMembers(pgid) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised name: state ppid pgrp … (a zombie is only waiting to be reaped)
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      out.push({ pid: Number(pid), args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 200) });
    } catch {
      // gone
    }
  }
  return out;
}

const kill = (pid, signal) => {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
};

/**
 * Reads the progress file: counts, failures and skips with their full names, and the tests that
 * had started and not finished (what was running when the file was killed).
 */
export function readProgress(path) {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // the file never loaded node:test
  }
  const result = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [], running: [] };
  const reported = []; // names by nesting, reporting order
  const executing = []; // names by nesting, execution order
  const failedAtSuiteStart = [];
  for (const line of text.split('\n').filter(Boolean)) {
    let r;
    try {
      r = JSON.parse(line);
    } catch {
      continue; // a line cut short by the kill
    }
    if (r.event === 'dequeue') executing.splice(r.nesting, Infinity, r.name);
    else if (r.event === 'complete') executing.splice(r.nesting, Infinity);
    else if (r.event === 'start') {
      reported.splice(r.nesting, Infinity, r.name);
      if (r.suite) failedAtSuiteStart[r.nesting] = result.failed;
    } else {
      const name = [...reported.slice(0, r.nesting), r.name].join(' › ');
      if (r.skip !== undefined || r.todo !== undefined) {
        result.skipped++;
        const reason = r.skip !== undefined ? r.skip : `todo${typeof r.todo === 'string' ? `: ${r.todo}` : ''}`;
        result.skips.push({ name, reason: typeof reason === 'string' && reason ? reason : 'no reason given' });
      } else if (r.event === 'pass') {
        if (!r.suite) result.passed++;
      } else if (!r.suite || (r.failure !== 'subtestsFailed' && failedAtSuiteStart[r.nesting] === result.failed)) {
        // A suite counts only when it failed by itself (a hook), not by its tests' failures.
        result.failed++;
        result.failures.push({ name, error: r.error });
      }
      reported.splice(r.nesting + 1, Infinity);
    }
  }
  if (executing.length) result.running.push(executing.join(' › '));
  return result;
}

/**
 * Runs `file` with node:test's spec reporter on our stdout. Resolves with its exit, whether it
 * timed out, what was running then, the counts, and the processes it left (killed).
 */
export async function runTestFile(file, { timeoutMs, env, progressPath, marker, cwd }) {
  rmSync(progressPath, { force: true });
  const started = Date.now();
  const child = spawn(
    process.execPath,
    ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${REPORTER}`, '--test-reporter-destination=/dev/null', file],
    { cwd, env: { ...env, WRENN_TEST_PROGRESS: progressPath }, stdio: ['ignore', 'inherit', 'inherit'], detached: true },
  );
  const pgid = child.pid;
  let timedOut = false;
  let runningAtTimeout = [];
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = setTimeout(() => {
    timedOut = true;
    runningAtTimeout = readProgress(progressPath).running;
    kill(-pgid, 'SIGTERM');
    setTimeout(() => kill(-pgid, 'SIGKILL'), KILL_GRACE_MS).unref();
  }, timeoutMs);
  const { code, signal } = await exited;
  clearTimeout(deadline);

  // Whatever the file started and did not stop: its process group, and anything carrying its
  // marker. A child told to stop just before the file ended gets a moment to finish.
  const leftovers = () => {
    const left = new Map();
    for (const p of [...groupMembers(pgid), ...markedProcesses(marker)]) left.set(p.pid, p);
    return left;
  };
  let left = leftovers();
  for (const until = Date.now() + LEFTOVER_GRACE_MS; left.size > 0 && Date.now() < until; left = leftovers()) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  kill(-pgid, 'SIGKILL');
  for (const pid of left.keys()) kill(pid, 'SIGKILL');

  const progress = readProgress(progressPath);
  rmSync(progressPath, { force: true });
  return {
    code,
    signal,
    timedOut,
    running: timedOut ? runningAtTimeout : progress.running,
    seconds: (Date.now() - started) / 1000,
    leftProcesses: timedOut ? [] : [...left.values()],
    ...progress,
  };
}
