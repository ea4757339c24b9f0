#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { history, replay, tail } from './commands/events';
import { inspectSnapshot } from './commands/snapshot';
import { start } from './commands/start';

const program = new Command('wrenn').description('Wrenn: self-hosted sandboxes').showHelpAfterError();

const fail = (error: unknown) => {
  console.error(`wrenn: ${(error as Error).message ?? error}`);
  process.exit(1);
};

program
  .command('start')
  .description('run every service in this process, or the ones named by --service')
  .option('--service <names>', 'run only this service (or several, comma-separated)')
  .action((opts) => start(opts.service).catch(fail));

const events = program.command('events').description('the event log');
events
  .command('tail')
  .description('print the log readably')
  .option('--from <seq>', 'start at this stream sequence', Number)
  .option('-n, --limit <count>', 'how many recent events', Number, 50)
  .option('-f, --follow', 'keep printing new events')
  .option('--json', 'JSON lines')
  .action((opts) => tail(opts).catch(fail));
events
  .command('replay')
  .description('truncate and rebuild read models from the log')
  .option('--projection <name>', 'only this projection (sandboxes, audit, usage)')
  .option('--json', 'JSON output')
  .action((opts) => replay(opts).catch(fail));

program
  .command('sandbox')
  .description('sandboxes')
  .command('history <id>')
  .description("a sandbox's events, in order")
  .option('--json', 'JSON lines')
  .action((id, opts) => history('sandbox', id, Boolean(opts.json)).catch(fail));

program
  .command('snapshot')
  .description('snapshot files on this host')
  .command('inspect <file>')
  .description('print a snapshot header: memory size, holes, generations and the pages each holds')
  .option('--json', 'JSON output')
  .option('--runs', 'also list every run of pages and the file holding it')
  .action((file, opts) => inspectSnapshot(file, opts).catch(fail));

program
  .command('template')
  .description('snapshot templates')
  .command('history <id>')
  .description("a template's events, in order")
  .option('--json', 'JSON lines')
  .action((id, opts) => history('template', id, Boolean(opts.json)).catch(fail));

program.parseAsync(process.argv).catch(fail);
