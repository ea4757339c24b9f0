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
    assert.deepEqual(names.filter((n) => n !== 'nats' && n !== 'postgres').sort(), [...services].sort());
    for (const name of services) assert.deepEqual(compose.services[name].command, ['--service', name]);
    assert.ok(compose.services.nats.command.includes('-js'));
    assert.equal(compose.services['host-agent'].privileged, true);
    for (const name of controlPlane) assert.notEqual(compose.services[name].privileged, true, `${name} needs no privileges`);
    // The gateway dials the agent's advertised address: it must be the agent's name on the compose network.
    assert.equal(compose.services['host-agent'].environment.WRENN_ADVERTISE_HOST, 'host-agent');
    assert.equal(compose.services['host-agent'].environment.WRENN_DATA_PLANE_HOST, '0.0.0.0');
  });

  it('the control-plane target starts every service but the host agent, which has its own unit', () => {
    const target = read('deploy/systemd/wrenn-control-plane.target');
    const wants = /^Wants=(.*)$/m.exec(target)![1].split(/\s+/).sort();
    assert.deepEqual(wants, controlPlane.map((s) => `wrenn@${s}.service`).sort());
    assert.match(read('deploy/systemd/wrenn-host-agent.service'), /start --service host-agent/);
    assert.match(read('deploy/systemd/wrenn@.service'), /start --service %i/);
  });
});
