#!/usr/bin/env node
// Writes the secrets docker-compose.yml reads, one env file per container under deploy/compose-env/
// (0600, never overwritten, not in git): PostgreSQL's administrator password, each service's own
// database role and password, and the data-plane key pair (the gateway's private key; the host
// agent's pinned public key). Each container gets only its own. Run once before
// `docker compose up`; compose refuses to start while they are missing, so there is no default.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'compose-env');
const secret = () => randomBytes(24).toString('base64url');
const services = ['gateway', 'auth', 'sandbox-scheduler', 'projector', 'snapshot-catalog', 'reaper'];
const urlVar = (s) => `WRENN_DATABASE_URL_${s.toUpperCase().replace(/-/g, '_')}`;
const url = (user, password) => `postgres://${user}:${password}@postgres:5432/wrenn`;

if (existsSync(join(dir, 'postgres.env'))) {
  // Kept as it is; a service added since (the projector) gets its role, and `migrate` its URL.
  const added = services.filter((s) => !existsSync(join(dir, `${s}.env`)));
  for (const s of added) {
    const role = { user: `wrenn_${s.replace(/-/g, '_')}`, password: secret() };
    writeFileSync(join(dir, `${s}.env`), `${urlVar(s)}=${url(role.user, role.password)}\n`, { mode: 0o600 });
    appendFileSync(join(dir, 'migrate.env'), `${urlVar(s)}=${url(role.user, role.password)}\n`);
  }
  console.log(added.length ? `${dir} exists: added ${added.join(', ')}` : `${dir} exists: kept as it is`);
  process.exit(0);
}
const admin = { user: 'wrenn_admin', password: secret() };
const roles = Object.fromEntries(services.map((s) => [s, { user: `wrenn_${s.replace(/-/g, '_')}`, password: secret() }]));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signing = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
const verify = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');

const files = {
  'postgres.env': { POSTGRES_USER: admin.user, POSTGRES_PASSWORD: admin.password, POSTGRES_DB: 'wrenn' },
  // The one-shot setup: the administrator, and every role to create.
  'migrate.env': { DATABASE_URL: url(admin.user, admin.password), ...Object.fromEntries(services.map((s) => [urlVar(s), url(roles[s].user, roles[s].password)])) },
  ...Object.fromEntries(services.map((s) => [`${s}.env`, { [urlVar(s)]: url(roles[s].user, roles[s].password), ...(s === 'gateway' ? { WRENN_DATA_PLANE_SIGNING_KEY: signing } : {}) }])),
  'host-agent.env': { WRENN_DATA_PLANE_VERIFY_KEY: verify },
};
mkdirSync(dir, { recursive: true, mode: 0o700 });
for (const [name, vars] of Object.entries(files)) {
  writeFileSync(join(dir, name), Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
}
console.log(`wrote ${Object.keys(files).length} env files to ${dir}`);
