import { join } from 'node:path';
import { loadWithCodeCache } from './code-cache-loader';

/** What sandboxes run as envd: the bundle beside this file, through its code cache. */
loadWithCodeCache(join(__dirname, 'envd-main.js'), join(__dirname, 'envd-main.jscache'));
