import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { produceCodeCache } from './code-cache-loader';

/**
 * Build step: starts the bundle once on a free loopback port, so what envd compiles on its way
 * to listening is in the cache, then writes the cache beside the bundle and exits.
 */
const dir = process.argv[2];
if (!dir) throw new Error('usage: make-code-cache <bundle dir>');
process.env.ENVD_PORT = '0';
process.env.ENVD_HOST = '127.0.0.1';
const { cache } = produceCodeCache(join(dir, 'envd-main.js'));
setTimeout(() => {
  writeFileSync(join(dir, 'envd-main.jscache'), cache());
  process.exit(0);
}, 300);
