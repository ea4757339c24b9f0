import { apiClient } from '../api/cli-config';
import { ago, bytes, printJson, printTable, withSpinner } from '../api/output';

export async function createTemplate(sandboxId: string, name: string, options: { json?: boolean }): Promise<void> {
  const client = await apiClient();
  const template = await withSpinner(`freezing ${sandboxId} as template ${name}`, options.json, () => client.createTemplate(sandboxId, name));
  if (options.json) return printJson(template);
  printTable(['NAME', 'STATE', 'FROM', 'HOST', 'VCPUS', 'MEMORY', 'SIZE'], [[template.name, template.state, template.sandbox_id, template.host_id, template.vcpus, `${template.memory_mb} MB`, bytes(template.size_bytes)]]);
}

export async function listTemplates(options: { json?: boolean }): Promise<void> {
  const client = await apiClient();
  const templates = await client.listTemplates();
  if (options.json) return printJson(templates);
  printTable(
    ['NAME', 'STATE', 'FROM', 'HOST', 'VCPUS', 'MEMORY', 'SIZE', 'CREATED'],
    templates.map((t) => [t.name, t.state, t.sandbox_id, t.host_id, t.vcpus, `${t.memory_mb} MB`, bytes(t.size_bytes), ago(t.created_at)]),
    'no templates',
  );
}

export async function deleteTemplates(names: string[], options: { json?: boolean }): Promise<void> {
  const client = await apiClient();
  for (const name of names) await withSpinner(`deleting ${name}`, options.json, () => client.deleteTemplate(name));
  if (options.json) printJson({ deleted: names });
  else for (const name of names) process.stdout.write(`deleted ${name}\n`);
}
