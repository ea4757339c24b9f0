// How `npm start` chooses its NATS (runs after the build: it uses libs/nats-auth's dist).
//
//   default                        its own nats-server in operator mode with auth on, on loopback
//                                  port WRENN_NATS_PORT (4223), config and creds generated into
//                                  <state dir>/nats-auth (WRENN_NATS_AUTH_DIR): every service and the
//                                  local host agent get their own creds
//   NATS_CREDS / WRENN_NATS_CREDS_DIR set
//                                  an operator's secured NATS at NATS_URL: used as it is
//   WRENN_NATS_INSECURE=1          the old open NATS at NATS_URL (default 127.0.0.1:4222), no auth,
//                                  with a loud warning
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNats, reachable } from './host-setup.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const say = (msg) => console.log(`[wrenn] ${msg}`);

export function natsMode(env = process.env) {
  if (env.WRENN_NATS_INSECURE === '1' || env.WRENN_NATS_INSECURE === 'true') return 'insecure';
  if (env.NATS_CREDS || env.WRENN_NATS_CREDS_DIR) return 'external';
  return 'secured';
}

/** Sets NATS_URL and WRENN_NATS_CREDS_DIR in process.env for the services it is about to run. */
export async function ensurePlatformNats(env = process.env) {
  const mode = natsMode(env);
  if (mode === 'insecure') {
    console.error('[wrenn] ################################################################');
    console.error('[wrenn] WARNING: WRENN_NATS_INSECURE=1 — NATS WITHOUT AUTHENTICATION.');
    console.error('[wrenn] Any local user or process (a sandbox included, where it can reach it)');
    console.error('[wrenn] can read every command and event and drive every sandbox.');
    console.error('[wrenn] ################################################################');
    await ensureNats();
    return { mode };
  }
  if (mode === 'external') {
    say(`using NATS at ${env.NATS_URL ?? 'nats://127.0.0.1:4222'} with the creds in ${env.NATS_CREDS ?? env.WRENN_NATS_CREDS_DIR}`);
    return { mode };
  }
  if (env.NATS_URL) {
    throw new Error(`NATS_URL is set but no creds are: set WRENN_NATS_CREDS_DIR (or NATS_CREDS) for that server, unset NATS_URL to run Wrenn's own authenticated NATS, or set WRENN_NATS_INSECURE=1`);
  }
  const { loadConfig } = require(join(root, 'libs/config/dist/index.js'));
  const { naming } = require(join(root, 'libs/contracts/dist/index.js'));
  const { prepareSecuredNats, startNatsServer } = require(join(root, 'libs/nats-auth/dist/index.js'));
  const config = loadConfig(env);
  const dir = env.WRENN_NATS_AUTH_DIR ?? join(config.host.stateDir, 'nats-auth');
  const host = '127.0.0.1';
  const port = Number(env.WRENN_NATS_PORT ?? 4223);
  const setup = await prepareSecuredNats(dir, naming(config.namespace), { host, port, hostIds: [config.host.id] });
  if (await reachable(host, port)) {
    say(`using the authenticated nats-server on ${host}:${port} (config ${setup.configPath})`);
  } else {
    say(`starting nats-server with auth and JetStream on ${host}:${port} (config and creds in ${dir})`);
    // Its own session: it outlives this process, like the PostgreSQL it sits beside.
    await startNatsServer(setup.configPath, { host, port, logFile: join(dir, 'nats-server.log'), detached: true });
  }
  env.NATS_URL = setup.url;
  env.WRENN_NATS_CREDS_DIR = setup.credsDir;
  return { mode, ...setup };
}
