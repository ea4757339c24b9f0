import { createEnvd } from './server';

/**
 * envd: the daemon inside every sandbox, the child of its PID 1 (tini). Listens on all of the
 * sandbox's addresses; the host agent (and, through Wrenn's proxy, E2B's SDKs) reach it there.
 */
const port = Number(process.env.ENVD_PORT ?? 49983);
const envd = createEnvd();
envd.server.listen(port, process.env.ENVD_HOST ?? '0.0.0.0');
const stop = () => void envd.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
