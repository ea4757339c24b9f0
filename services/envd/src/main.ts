import { createServer } from 'node:http';

/**
 * envd: the daemon inside every sandbox. This first version answers its health probe; the
 * process and filesystem services (E2B's envd protocol over Connect RPC) build on it.
 */
const port = Number(process.env.ENVD_PORT ?? 49983);
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
});
server.listen(port, process.env.ENVD_HOST ?? '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
