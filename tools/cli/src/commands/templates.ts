import { apiClient } from '../api/cli-config';
import { ago, bytes, printJson, printTable, withSpinner } from '../api/output';

export async function createTemplate(sandboxId: string, name: string, options: { json?: boolean }): Promise<void> {
  const client = await apiClient();
  const snapshot = await withSpinner(`snapshotting ${sandboxId} as ${name}`, options.json, () => client.createSnapshot(sandboxId, name));
  if (options.json) return printJson(snapshot);
  printTable(['NAME', 'STATE', 'FROM', 'HOST', 'VCPUS', 'MEMORY', 'SIZE'], [[snapshot.name, snapshot.state, snapshot.sandbox_id, snapshot.host_id, snapshot.vcpus, `${snapshot.memory_mb} MB`, bytes(snapshot.size_bytes)]]);
}

export async function listTemplates(options: { json?: boolean }): Promise<void> {
  const client = await apiClient();
  const snapshots = await client.listSnapshots();
  if (options.json) return printJson(snapshots);
  printTable(
    ['NAME', 'STATE', 'FROM', 'HOST', 'VCPUS', 'MEMORY', 'SIZE', 'CREATED'],
    snapshots.map((s) => [s.name, s.state, s.sandbox_id, s.host_id, s.vcpus, `${s.memory_mb} MB`, bytes(s.size_bytes), ago(s.created_at)]),
    'no snapshot templates',
  );
}

export async function deleteTemplates(names: string[], options: { json?: boolean }): Promise<void> {
  const client = await apiClient();
  for (const name of names) await withSpinner(`deleting ${name}`, options.json, () => client.deleteSnapshot(name));
  if (options.json) printJson({ deleted: names });
  else for (const name of names) process.stdout.write(`deleted ${name}\n`);
}
