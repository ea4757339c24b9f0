import { CreateSandbox, Sandbox, SandboxState } from '@wrenn/sdk';
import { apiClient } from '../api/cli-config';
import { ago, bytes, printJson, printTable, withSpinner } from '../api/output';

interface Json {
  json?: boolean;
}

function printSandbox(sandbox: Sandbox, json?: boolean): void {
  if (json) return printJson(sandbox);
  printTable(['ID', 'STATE', 'TEMPLATE', 'VCPUS', 'MEMORY', 'HOST', 'CREATED'], [row(sandbox)]);
}

function row(s: Sandbox): Array<string | number | null> {
  return [s.id, s.state + (s.failure_reason ? ` (${s.failure_reason})` : ''), s.template, s.vcpus, `${s.memory_mb} MB`, s.host_id, ago(s.created_at)];
}

export async function createSandbox(options: Json & { template?: string; vcpus?: number; memory?: number; timeout?: number }): Promise<void> {
  const client = await apiClient();
  const request: CreateSandbox = { template: options.template, vcpus: options.vcpus, memory_mb: options.memory, timeout_sec: options.timeout };
  const sandbox = await withSpinner('creating a sandbox', options.json, () => client.createSandbox(request));
  printSandbox(sandbox, options.json);
}

export async function listSandboxes(options: Json & { state?: string; limit?: number; all?: boolean }): Promise<void> {
  const client = await apiClient();
  let sandboxes = await client.listSandboxes({ state: options.state as SandboxState | undefined, limit: options.limit });
  // Deleted sandboxes stay in the read model; a plain `ls` shows what still exists.
  if (!options.all && !options.state) sandboxes = sandboxes.filter((s) => s.state !== 'deleted');
  if (options.json) return printJson(sandboxes);
  printTable(['ID', 'STATE', 'TEMPLATE', 'VCPUS', 'MEMORY', 'HOST', 'CREATED'], sandboxes.map(row), 'no sandboxes');
}

export async function sandboxAction(action: 'pause' | 'resume' | 'rm', ids: string[], options: Json): Promise<void> {
  const client = await apiClient();
  const results: Sandbox[] = [];
  const verb = { pause: 'pausing', resume: 'resuming', rm: 'destroying' }[action];
  for (const id of ids) {
    const call = action === 'pause' ? client.pauseSandbox(id) : action === 'resume' ? client.resumeSandbox(id) : client.destroySandbox(id);
    results.push(await withSpinner(`${verb} ${id}`, options.json, () => call));
  }
  if (options.json) return printJson(ids.length === 1 ? results[0] : results);
  printTable(
    ['ID', 'STATE', 'SNAPSHOT'],
    results.map((s) => [s.id, s.state, s.snapshot_size_bytes ? bytes(s.snapshot_size_bytes) : null]),
  );
}

/** Runs a command to completion; its output goes to this process's stdout/stderr and its exit code becomes ours. */
export async function execInSandbox(id: string, command: string[], options: Json & { env?: string[]; cwd?: string; user?: string; timeout?: number }): Promise<void> {
  if (command.length === 0) throw new Error('give the command after the id, e.g. `wrenn sandbox exec <id> -- ls -la`');
  const env: Record<string, string> = {};
  for (const pair of options.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--env takes NAME=value, got "${pair}"`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const client = await apiClient();
  const result = await withSpinner(`running ${command[0]}`, options.json, () =>
    client.exec(id, { cmd: command[0], args: command.slice(1), env: Object.keys(env).length ? env : undefined, cwd: options.cwd, user: options.user, timeout_sec: options.timeout }),
    // The command's own output follows: the spinner leaves no line of its own.
    { clear: true },
  );
  if (options.json) printJson(result);
  else {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    if (result.timed_out) process.stderr.write(`wrenn: timed out after ${result.duration_ms} ms\n`);
    if (result.truncated) process.stderr.write('wrenn: output truncated at 1 MiB per stream\n');
  }
  process.exitCode = result.exit_code;
}
