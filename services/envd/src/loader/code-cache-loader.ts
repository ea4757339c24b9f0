import { existsSync, readFileSync } from 'node:fs';
import { Module } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

/**
 * Loads a CommonJS bundle through V8's code cache. A sandbox starts (and resumes) envd with a
 * fresh Node process every time, and compiling envd's bundle is a third of that start: with the
 * cache made at build time (by running the bundle once, so the functions its start runs are in
 * it) the compile is skipped. A cache V8 refuses — another Node build or flags — only costs the
 * plain compile, never a failure.
 */
export function loadWithCodeCache(bundle: string, cacheFile: string): void {
  const source = readFileSync(bundle, 'utf8');
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
  runAsModule(script, bundle);
}

/** Runs the bundle once and returns the code cache of everything it compiled while starting. */
export function produceCodeCache(bundle: string): { script: Script; cache: () => Buffer } {
  const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle });
  runAsModule(script, bundle);
  return { script, cache: () => script.createCachedData() };
}

function runAsModule(script: Script, filename: string): void {
  const module = new Module(filename);
  module.filename = filename;
  module.paths = [];
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, require, module, filename, join(filename, '..'));
}
