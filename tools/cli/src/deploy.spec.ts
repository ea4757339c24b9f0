import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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
    assert.deepEqual(names.filter((n) => n !== 'nats' && n !== 'nats-init' && n !== 'postgres').sort(), [...services].sort());
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

  it('the control-plane target starts every service but the host agent, which has its own unit', () => {
    const target = read('deploy/systemd/wrenn-control-plane.target');
    const wants = /^Wants=(.*)$/m.exec(target)![1].split(/\s+/).sort();
    assert.deepEqual(wants, controlPlane.map((s) => `wrenn@${s}.service`).sort());
    assert.match(read('deploy/systemd/wrenn-host-agent.service'), /start --service host-agent/);
    assert.match(read('deploy/systemd/wrenn@.service'), /start --service %i/);
  });
});
