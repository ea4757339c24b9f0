#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { WrennApiError } from '@wrenn/sdk';

// Command modules load when their command runs: `start` and the event commands pull in every
// service and the database layer (~0.5 s), which API commands like `sandbox ls` never need.
const start = async (...a: Parameters<typeof import('./commands/start').start>) => (await import('./commands/start')).start(...a);
const dbSetup = async () => (await import('./commands/database')).setUp();
const tail = async (...a: Parameters<typeof import('./commands/events').tail>) => (await import('./commands/events')).tail(...a);
const replay = async (...a: Parameters<typeof import('./commands/events').replay>) => (await import('./commands/events')).replay(...a);
const rebuild = async (...a: Parameters<typeof import('./commands/events').rebuild>) => (await import('./commands/events')).rebuild(...a);
const history = async (...a: Parameters<typeof import('./commands/events').history>) => (await import('./commands/events')).history(...a);
const listHosts = async (...a: Parameters<typeof import('./commands/hosts').listHosts>) => (await import('./commands/hosts')).listHosts(...a);
const natsCommands = () => import('./commands/nats');
const inspectSnapshot = async (...a: Parameters<typeof import('./commands/snapshot').inspectSnapshot>) => (await import('./commands/snapshot')).inspectSnapshot(...a);
const login = async (...a: Parameters<typeof import('./commands/login').login>) => (await import('./commands/login')).login(...a);
const shell = async (...a: Parameters<typeof import('./commands/shell').shell>) => (await import('./commands/shell')).shell(...a);
const sandboxes = () => import('./commands/sandboxes');
const templates = () => import('./commands/templates');
const createSandbox = async (...a: Parameters<typeof import('./commands/sandboxes').createSandbox>) => (await sandboxes()).createSandbox(...a);
const listSandboxes = async (...a: Parameters<typeof import('./commands/sandboxes').listSandboxes>) => (await sandboxes()).listSandboxes(...a);
const execInSandbox = async (...a: Parameters<typeof import('./commands/sandboxes').execInSandbox>) => (await sandboxes()).execInSandbox(...a);
const sandboxAction = async (...a: Parameters<typeof import('./commands/sandboxes').sandboxAction>) => (await sandboxes()).sandboxAction(...a);
const createTemplate = async (...a: Parameters<typeof import('./commands/templates').createTemplate>) => (await templates()).createTemplate(...a);
const listTemplates = async (...a: Parameters<typeof import('./commands/templates').listTemplates>) => (await templates()).listTemplates(...a);
const deleteTemplates = async (...a: Parameters<typeof import('./commands/templates').deleteTemplates>) => (await templates()).deleteTemplates(...a);

// Read at run time (dist/ sits beside package.json), so the version is the package's.
const { version } = require('../package.json') as { version: string };
const program = new Command('wrenn').description('Wrenn: self-hosted sandboxes').version(version).showHelpAfterError();

/** API errors keep their machine-readable code: on stderr as `code: message`, or as the API's JSON with --json. */
const fail = (json?: boolean) => (error: unknown) => {
  if (error instanceof WrennApiError) {
    if (json) process.stderr.write(`${JSON.stringify({ error: { code: error.code, message: error.message, status: error.status, details: error.details } })}\n`);
    else console.error(`wrenn: ${error.code}: ${error.message}`);
  } else {
    console.error(`wrenn: ${(error as Error).message ?? error}`);
  }
  process.exit(1);
};
const int = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`not an integer: ${value}`);
  return n;
};
const collect = (value: string, all: string[] = []) => [...all, value];

program
  .command('start')
  .description('run every service in this process, or the ones named by --service')
  .option('--service <names>', 'run only this service (or several, comma-separated)')
  .action((opts) => start(opts.service).catch(fail()));

program
  .command('login')
  .description('save the API address and credentials in ~/.config/wrenn/config.json (mode 0600)')
  .option('--url <url>', 'the API, e.g. http://127.0.0.1:8080')
  .option('--api-key <key>', 'an API key (wrn_…)')
  .option('--email <email>', 'log in with a password; an API key for this machine is created')
  .option('--password-stdin', 'read the password from stdin')
  .option('--json', 'JSON output')
  .action((opts) => login(opts).catch(fail(opts.json)));

program
  .command('db')
  .description('the database')
  .command('setup')
  .description('with DATABASE_URL (the administrative role): create the database, migrate, and create each WRENN_DATABASE_URL_<SERVICE> role with its grants')
  .action(() => dbSetup().then(() => process.exit(0)).catch(fail()));

const events = program.command('events').description('the event log');
events
  .command('tail')
  .description('print the log readably')
  .option('--from <seq>', 'start at this stream sequence', Number)
  .option('-n, --limit <count>', 'how many recent events', Number, 50)
  .option('-f, --follow', 'keep printing new events')
  .option('--json', 'JSON lines')
  .action((opts) => tail(opts).catch(fail()));
events
  .command('rebuild')
  .description('truncate the live read models and rebuild them from the log')
  .option('--projection <name>', 'only this projection (sandboxes, templates, audit, usage)')
  .option('--json', 'JSON output')
  .action((opts) => rebuild(opts).catch(fail()));

program
  .command('replay')
  .description('rebuild the read models from the log into a scratch schema and diff them against the live ones; exit 1 on any difference')
  .option('--projection <name>', 'only this projection (sandboxes, templates, audit, usage)')
  .option('--timeout <sec>', 'how long to wait for a live projection behind the log', Number)
  .option('--json', 'the report as one JSON document')
  .action((opts) => replay(opts).catch(fail()));

const sandbox = program.command('sandbox').description('sandboxes');
sandbox
  .command('create')
  .description('create a sandbox and wait until it runs')
  .option('-t, --template <name>', 'base or a template (wrenn template ls)', 'base')
  .option('--vcpus <n>', 'vCPUs', int)
  .option('--memory <mb>', 'memory in MB', int)
  .option('--timeout <sec>', 'pause after this many seconds of inactivity (0 = never)', int)
  .option('--json', 'JSON output')
  .action((opts) => createSandbox(opts).catch(fail(opts.json)));
sandbox
  .command('ls')
  .alias('list')
  .description('list sandboxes (stopped ones with --all)')
  .option('--state <state>', 'only this state')
  .option('--limit <n>', 'at most this many', int)
  .option('-a, --all', 'include stopped sandboxes')
  .option('--json', 'JSON output')
  .action((opts) => listSandboxes(opts).catch(fail(opts.json)));
sandbox
  .command('exec <id> <command...>')
  .description('run a command to completion; exits with its exit code (put options for the command after --)')
  .option('-e, --env <NAME=value>', 'environment variable (repeatable)', collect)
  .option('--cwd <dir>', 'working directory')
  .option('-u, --user <user>', 'run as this account (default root)')
  .option('--timeout <sec>', 'kill after this many seconds', int)
  .option('--json', 'print {stdout, stderr, exit_code, …}')
  .action((id, command, opts) => execInSandbox(id, command, opts).catch(fail(opts.json)));
sandbox
  .command('shell <id> [command...]')
  .description('an interactive terminal in the sandbox (default /bin/bash -l); exits with its exit code')
  .option('-u, --user <user>', 'run as this account (default root)')
  .option('--cwd <dir>', 'working directory')
  .action((id, command, opts) => shell(id, command, opts).catch(fail()));
for (const [action, description] of [
  ['pause', 'snapshot and free every host resource'],
  ['resume', 'bring paused sandboxes back'],
  ['rm', 'destroy sandboxes'],
] as const) {
  sandbox
    .command(`${action} <ids...>`)
    .description(description)
    .option('--json', 'JSON output')
    .action((ids, opts) => sandboxAction(action, ids, opts).catch(fail(opts.json)));
}
sandbox
  .command('history <id>')
  .description("a sandbox's events, in order")
  .option('--json', 'JSON lines')
  .action((id, opts) => history('sandbox', id, Boolean(opts.json)).catch(fail()));

const template = program.command('template').description('templates: what new sandboxes start from (base, or one frozen from a running sandbox)');
const templateCommands = [
  ['create <sandbox-id> <name>', 'freeze a running sandbox (which keeps running) into a named template', (id: string, name: string, opts: { json?: boolean }) => createTemplate(id, name, opts).catch(fail(opts.json))],
  ['ls', "the team's templates", (opts: { json?: boolean }) => listTemplates(opts).catch(fail(opts.json))],
  ['rm <names...>', 'delete templates (refused while a sandbox made from one is not stopped)', (names: string[], opts: { json?: boolean }) => deleteTemplates(names, opts).catch(fail(opts.json))],
] as const;
for (const [usage, description, action] of templateCommands) {
  const command = template.command(usage).description(description).option('--json', 'JSON output').action(action);
  if (usage === 'ls') command.alias('list');
}
template
  .command('history <id>')
  .description("a template's events, in order")
  .option('--json', 'JSON lines')
  .action((id, opts) => history('template', id, Boolean(opts.json)).catch(fail()));

// `snapshot create|ls|rm` were the template commands' names before a snapshot came to mean only
// a paused sandbox's saved state; they stay for one release, warning on stderr. With --json the
// output, stderr's JSON error included, stays exactly as it was, so scripts that parse it go on
// working. `snapshot inspect` reads real snapshot files and stays.
const snapshot = program.command('snapshot').description('snapshot files on this host (create, ls and rm: deprecated names of the template commands)');
for (const [usage, description, action] of templateCommands) {
  const verb = usage.split(' ')[0];
  const command = snapshot
    .command(usage)
    .description(`deprecated: use \`wrenn template ${verb}\` (${description})`)
    .option('--json', 'JSON output')
    .hook('preAction', (_snapshot, action) => {
      if (action.opts().json) return;
      process.stderr.write(`wrenn: \`snapshot ${verb}\` is deprecated and goes away in the next release; use \`template ${verb}\`\n`);
    })
    .action(action);
  if (usage === 'ls') command.alias('list');
}
snapshot
  .command('inspect <file>')
  .description('print a snapshot header: memory size, holes, generations and the pages each holds')
  .option('--json', 'JSON output')
  .option('--runs', 'also list every run of pages and the file holding it')
  .action((file, opts) => inspectSnapshot(file, opts).catch(fail()));

const host = program.command('host').description('host agents');
host
  .command('ls')
  .alias('list')
  .description('host agents and their heartbeats (reads the hosts bucket over NATS)')
  .option('--json', 'JSON output')
  .action((opts) => listHosts(opts).catch(fail(opts.json)));
host
  .command('enrol <host-id>')
  .alias('enroll')
  .description("issue a host agent's NATS creds (its own host.<id> subjects only); the server's config is not touched")
  .option('--dir <dir>', 'the NATS trust chain (default $WRENN_NATS_AUTH_DIR or <state dir>/nats-auth)')
  .option('--out <file>', 'write the creds here (0600) instead of into the creds directory')
  .option('--stdout', 'print the creds')
  .action(async (hostId, opts) => (await natsCommands()).enrolHost(hostId, opts).catch(fail()));

const nats = program.command('nats').description('NATS credentials and server config (operator mode)');
nats
  .command('init')
  .description('make or keep the operator and account, issue every service\'s creds, write a server config')
  .option('--dir <dir>', 'where (default $WRENN_NATS_AUTH_DIR or <state dir>/nats-auth)')
  .option('--host <addr>', 'address the server listens on', '127.0.0.1')
  .option('--port <port>', 'its port', int, 4223)
  .option('--store-dir <dir>', "JetStream's store (default <dir>/jetstream)")
  .option('--monitor-port <port>', 'HTTP monitoring (health checks) on the same address', int)
  .option('--host-id <id>', 'also issue creds for this host agent (repeatable)', collect, [])
  .action(async (opts) => (await natsCommands()).natsInit({ dir: opts.dir, host: opts.host, port: opts.port, storeDir: opts.storeDir, monitorPort: opts.monitorPort, hosts: opts.hostId }).catch(fail()));
nats
  .command('creds <service>')
  .description("one service's creds: gateway, auth, sandbox-scheduler, snapshot-catalog, reaper or admin")
  .option('--dir <dir>', 'the NATS trust chain')
  .option('--out <file>', 'write them here (0600) instead of printing')
  .action(async (service, opts) => (await natsCommands()).serviceCreds(service, opts).catch(fail()));
nats
  .command('server-config')
  .description('a server config trusting this operator (for each server of a cluster)')
  .option('--dir <dir>', 'the NATS trust chain')
  .requiredOption('--host <addr>', 'listen address')
  .option('--port <port>', 'client port', int, 4222)
  .option('--store-dir <dir>', "JetStream's store", '/var/lib/nats/jetstream')
  .option('--name <name>', 'server name (unique in the cluster)')
  .option('--tls-cert <file>', 'TLS certificate for clients')
  .option('--tls-key <file>', 'its key')
  .option('--tls-ca <file>', 'CA that clients\' certificates chain to')
  .option('--out <file>', 'write it here (0600) instead of printing')
  .action(async (opts) => (await natsCommands()).natsServerConfig(opts).catch(fail()));

program.parseAsync(process.argv).catch(fail());
