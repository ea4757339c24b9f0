import { hostname } from 'node:os';
import { WrennClient } from '@wrenn/sdk';
import { CliConfig, configPath, readCliConfig, writeCliConfig } from '../api/cli-config';
import { printJson, withSpinner } from '../api/output';
import { variable } from '@wrenn/config';

export interface LoginOptions {
  url?: string;
  apiKey?: string;
  email?: string;
  password?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

/**
 * `wrenn login`: with --api-key, checks the key and saves it; with --email, logs in (password from
 * --password-stdin, WRENN_PASSWORD or a hidden prompt), makes an API key for this machine and
 * saves both it and the token. Nothing is saved unless the API accepted the credentials.
 */
export async function login(options: LoginOptions): Promise<void> {
  const url = options.url ?? variable('WRENN_API_URL') ?? (await readCliConfig())?.url;
  if (!url) throw new Error('--url is required (the API address, e.g. http://127.0.0.1:8080)');
  const client = new WrennClient({ baseUrl: url });
  let config: CliConfig;
  if (options.apiKey) {
    client.apiKey = options.apiKey;
    await withSpinner(`checking the key with ${url}`, options.json, () => client.listSandboxes({ limit: 1 }));
    config = { url: client.baseUrl, apiKey: options.apiKey };
  } else if (options.email) {
    const password = options.password ?? (options.passwordStdin ? await readStdin() : variable('WRENN_PASSWORD') ?? (await promptHidden('Password: ')));
    const session = await withSpinner(`logging in to ${url}`, options.json, () => client.login(options.email!, password));
    const key = await client.createApiKey(`cli@${hostname()}`.slice(0, 100));
    config = { url: client.baseUrl, apiKey: key.key, token: session.token, email: options.email, teamId: session.team_id };
  } else {
    throw new Error('give --api-key <key>, or --email <email> to log in with a password');
  }
  const path = await writeCliConfig(config);
  const summary = { url: config.url, email: config.email ?? null, team_id: config.teamId ?? null, api_key_prefix: config.apiKey!.slice(0, 12), config: path };
  if (options.json) printJson(summary);
  else process.stdout.write(`Logged in to ${config.url}${config.email ? ` as ${config.email}` : ''} (key ${summary.api_key_prefix}…); saved to ${configPath()}\n`);
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, '');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new Error('no terminal to ask for the password: use --password-stdin or WRENN_PASSWORD');
  return new Promise((resolve, reject) => {
    let value = '';
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chars: string) => {
      for (const ch of chars) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
