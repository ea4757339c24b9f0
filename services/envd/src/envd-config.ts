/**
 * envd's configuration: the only module in envd that reads the environment. envd is bundled into
 * one file that runs inside every sandbox without the platform's libraries, so it does not use
 * @wrenn/config; its few variables are parsed here, and a bad one stops envd at start with a
 * message naming it. (envd instances the host agent runs take all of this from their factory's
 * options instead.)
 *
 * - ENVD_PORT: the port (default 49983, E2B's, the same as @wrenn/contracts' ENVD_PORT; 0 picks a free one);
 * - ENVD_HOST: the address (default all of the sandbox's);
 * - ENVD_ACCESS_TOKEN: the token handed to envd at start (taken once, then removed);
 * - ENVD_DEFAULT_USER: the user commands run as when a request names none (POST /init changes it);
 * - PATH: passed on to the processes envd starts.
 */
export interface EnvdConfig {
  port: number;
  host: string;
}

const DEFAULT_PORT = 49983;

export function envdConfig(env: NodeJS.ProcessEnv = process.env): EnvdConfig {
  const rawPort = env.ENVD_PORT;
  let port = DEFAULT_PORT;
  if (rawPort !== undefined && rawPort !== '') {
    port = Number(rawPort);
    if (!/^[0-9]+$/.test(rawPort) || port > 65535) throw new Error(`ENVD_PORT must be a port number (0-65535), got "${rawPort}"`);
  }
  return { port, host: env.ENVD_HOST || '0.0.0.0' };
}

/** envd's own PATH, which the processes it starts inherit (as E2B's envd passes it on); undefined when unset. */
export function envdPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.PATH || undefined;
}

/** Where a token is handed to envd at start (see takeAccessTokenFromEnv). */
export const ACCESS_TOKEN_ENV = 'ENVD_ACCESS_TOKEN';

/**
 * Reads the start-time token and removes it from envd's environment, so nothing envd starts can
 * inherit it even if a future spawn passed the environment on. (/proc/<envd>/environ keeps the
 * value it was exec'd with, but only envd's own uid may read that file.)
 */
export function takeAccessTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env[ACCESS_TOKEN_ENV] || undefined;
  delete env[ACCESS_TOKEN_ENV];
  return token;
}

/** The start-time default user (ENVD_DEFAULT_USER), if any. */
export function envdDefaultUser(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.ENVD_DEFAULT_USER || undefined;
}
