import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { SERVICES } from './commands/start';

const REPO = resolve(__dirname, '../../..');
const read = (path: string) => readFileSync(resolve(REPO, path), 'utf8');

/** The deploy files name the services `wrenn start --service` knows: a renamed or new service cannot be forgotten there. */
describe('deploy files', () => {
  const services = Object.keys(SERVICES);
  const controlPlane = services.filter((s) => s !== 'host-agent');

  it('compose runs one container per service, plus NATS with JetStream and PostgreSQL', () => {
    const compose = parse(read('docker-compose.yml'));
    const names = Object.keys(compose.services);
    assert.deepEqual(names.filter((n) => !['nats', 'nats-init', 'postgres', 'migrate'].includes(n)).sort(), [...services].sort());
    for (const name of services) assert.deepEqual(compose.services[name].command, ['--service', name]);
    assert.equal(compose.services['host-agent'].privileged, true);
    for (const name of controlPlane) assert.notEqual(compose.services[name].privileged, true, `${name} needs no privileges`);
    // The gateway dials the agent's advertised address: it must be the agent's name on the compose network.
    assert.equal(compose.services['host-agent'].environment.WRENN_ADVERTISE_HOST, 'host-agent');
    assert.equal(compose.services['host-agent'].environment.WRENN_DATA_PLANE_HOST, '0.0.0.0');
  });

  it('compose runs NATS with auth on from generated creds, each service on its own, no NATS port published', () => {
    const compose = parse(read('docker-compose.yml'));
    assert.deepEqual(compose.services.nats.command, ['-c', '/nats-auth/nats-server.conf']);
    assert.equal(compose.services.nats.ports, undefined);
    assert.match(compose.services['nats-init'].command.join(' '), /nats init .*--dir \/nats-auth/);
    for (const name of controlPlane) {
      assert.equal(compose.services[name].environment.NATS_CREDS, `/nats-auth/creds/${name}.creds`, name);
      assert.equal(compose.services[name].environment.WRENN_NATS_INSECURE, undefined, name);
    }
    const agent = compose.services['host-agent'];
    assert.equal(agent.environment.NATS_CREDS, '/host-agent-creds/nats.creds');
    // The privileged container that runs sandboxes holds its own creds and no service's.
    assert.ok(!agent.volumes.some((v: string) => v.startsWith('nats-auth:')), JSON.stringify(agent.volumes));
    assert.match(compose.services['nats-init'].command.join(' '), new RegExp(`host enrol ${agent.environment.WRENN_HOST_ID} .*--out /host-agent-creds/nats.creds`));
  });

  it('compose publishes only the API, has no password of its own, and gives each container only its own secrets', () => {
    const text = read('docker-compose.yml');
    const compose = parse(text);
    for (const [name, service] of Object.entries<{ ports?: string[] }>(compose.services)) {
      if (name === 'gateway') assert.deepEqual(service.ports, ['8080:8080']);
      else assert.equal(service.ports, undefined, `${name} publishes ${service.ports}`);
    }
    assert.doesNotMatch(text, /POSTGRES_PASSWORD\s*:|postgres:\/\/[^@\s]*:[^@\s]*@/, 'a password written into the compose file');
    assert.deepEqual(compose.services.postgres.env_file, ['deploy/compose-env/postgres.env']);
    assert.deepEqual(compose.services.migrate.entrypoint.slice(-2), ['db', 'setup']);
    for (const name of services) assert.deepEqual(compose.services[name].env_file, [`deploy/compose-env/${name}.env`], name);
  });

  it('the compose env generator writes distinct secrets, 0600, one role URL per service file', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'wrenn-compose-env-')), 'env');
    try {
      execFileSync(process.execPath, [resolve(REPO, 'deploy/compose-env.mjs'), dir]);
      const env = (file: string) => Object.fromEntries(readFileSync(join(dir, file), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const passwords = new Set<string>([env('postgres.env').POSTGRES_PASSWORD]);
      for (const name of controlPlane) {
        const vars = env(`${name}.env`);
        const own = `WRENN_DATABASE_URL_${name.toUpperCase().replace(/-/g, '_')}`;
        assert.deepEqual(Object.keys(vars).filter((k) => k.startsWith('WRENN_DATABASE_URL_')), [own], `${name} sees another service's role`);
        assert.equal(vars.DATABASE_URL, undefined, `${name} holds the administrator's URL`);
        passwords.add(decodeURIComponent(new URL(vars[own]).password));
        assert.equal(statSync(join(dir, `${name}.env`)).mode & 0o777, 0o600);
      }
      assert.equal(passwords.size, controlPlane.length + 1, 'a password is shared');
      assert.ok(env('gateway.env').WRENN_DATA_PLANE_SIGNING_KEY && env('host-agent.env').WRENN_DATA_PLANE_VERIFY_KEY);
      assert.equal(env('host-agent.env').WRENN_DATA_PLANE_SIGNING_KEY, undefined, 'the agent holds the signing key');
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('the compose env generator keeps an existing directory and adds only a service that is new there', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'wrenn-compose-env-')), 'env');
    try {
      execFileSync(process.execPath, [resolve(REPO, 'deploy/compose-env.mjs'), dir]);
      const before = Object.fromEntries(['postgres.env', 'migrate.env', 'gateway.env'].map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
      const projector = readFileSync(join(dir, 'projector.env'), 'utf8');
      // A directory made before the projector existed: its file and its migrate line missing.
      rmSync(join(dir, 'projector.env'));
      writeFileSync(join(dir, 'migrate.env'), before['migrate.env'].split('\n').filter((l) => !l.startsWith('WRENN_DATABASE_URL_PROJECTOR=')).join('\n'), { mode: 0o600 });
      const out = execFileSync(process.execPath, [resolve(REPO, 'deploy/compose-env.mjs'), dir]).toString();
      assert.match(out, /added projector/);
      const added = readFileSync(join(dir, 'projector.env'), 'utf8');
      assert.match(added, /^WRENN_DATABASE_URL_PROJECTOR=postgres:\/\/wrenn_projector:/);
      assert.notEqual(added, projector, 'a fresh password');
      assert.equal(statSync(join(dir, 'projector.env')).mode & 0o777, 0o600);
      assert.ok(readFileSync(join(dir, 'migrate.env'), 'utf8').includes(added.trim()), 'migrate creates the role it was given');
      for (const file of ['postgres.env', 'gateway.env']) assert.equal(readFileSync(join(dir, file), 'utf8'), before[file], file);
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('the control-plane target starts every service but the host agent, which has its own unit', () => {
    const target = read('deploy/systemd/wrenn-control-plane.target');
    const wants = /^Wants=(.*)$/m.exec(target)![1].split(/\s+/).sort();
    assert.deepEqual(wants, controlPlane.map((s) => `wrenn@${s}.service`).sort());
    assert.match(read('deploy/systemd/wrenn-host-agent.service'), /start --service host-agent/);
    assert.match(read('deploy/systemd/wrenn@.service'), /start --service %i/);
  });
});
