import { AddressInfo } from 'node:net';
import { envdConfig, envdDefaultUser, envdPath, takeAccessTokenFromEnv } from './envd-config';
import { createEnvd } from './server';

/**
 * envd inside a sandbox (a Firecracker guest, as the child of its init): listens on all of the
 * sandbox's addresses (ENVD_HOST narrows that) on E2B's port 49983 (ENVD_PORT; 0 picks a free
 * one). The line it prints once listening names the real port, for whoever started it.
 */
const { port, host } = envdConfig();
const envd = createEnvd({ accessToken: takeAccessTokenFromEnv(), defaultUser: envdDefaultUser(), path: envdPath() });
envd.server.listen(port, host, () => {
  const address = envd.server.address() as AddressInfo;
  process.stdout.write(`envd listening on ${address.address}:${address.port}\n`);
});
const stop = () => void envd.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
