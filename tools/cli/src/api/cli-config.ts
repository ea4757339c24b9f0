import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { WrennClient } from '@wrenn/sdk';
import { variable } from '@wrenn/config';

/** What `wrenn login` keeps: the API's address and the credentials to use it. */
export interface CliConfig {
  url: string;
  apiKey?: string;
  token?: string;
  email?: string;
  teamId?: string;
}

/** `$XDG_CONFIG_HOME/wrenn/config.json`, else `~/.config/wrenn/config.json`. */
export function configPath(): string {
  return join(variable('XDG_CONFIG_HOME') ?? join(homedir(), '.config'), 'wrenn', 'config.json');
}

export async function readCliConfig(): Promise<CliConfig | undefined> {
  try {
    return JSON.parse(await readFile(configPath(), 'utf8')) as CliConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${configPath()}: ${(error as Error).message}`);
  }
}

/**
 * Writes the file readable by its owner only (it holds a key): created 0600 under a 0700
 * directory, through a temporary file and a rename so a crash never leaves half a file.
 */
export async function writeCliConfig(config: CliConfig): Promise<string> {
  const path = configPath();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return path;
}

/** The client for API commands: `WRENN_API_URL` / `WRENN_API_KEY` / `WRENN_TOKEN` win over the saved login. */
export async function apiClient(): Promise<WrennClient> {
  const saved = await readCliConfig();
  const baseUrl = variable('WRENN_API_URL') ?? saved?.url;
  if (!baseUrl) throw new Error('not logged in: run `wrenn login --url <api url> --api-key <key>` (or set WRENN_API_URL and WRENN_API_KEY)');
  return new WrennClient({ baseUrl, apiKey: variable('WRENN_API_KEY') ?? saved?.apiKey, token: variable('WRENN_TOKEN') ?? saved?.token });
}
