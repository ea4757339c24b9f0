import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, WrennError } from './errors';
import { isSandboxId, isTemplateId, isTemplateName, requireSandboxId, requireTemplateId } from './ids';

// The one template-name rule: the gateway (REST and E2B), the catalog and the host agent all
// check names with isTemplateName, so this list is what every entry point accepts.
describe('template names', () => {
  const accepted = ['base', 'a', '0', 'my-template', 'py_3', 'x'.repeat(63), 'code-interpreter-v1'];
  const refused = [
    '', 'x'.repeat(64), 'Base', '-lead', '_lead', 'has.dot', '..', 'a/b', '../etc', 'a b', 'tab\tname',
    'ünïcode', 'а', // Cyrillic a: looks like "a"
    'name\n', 'name\0', 'x:default',
  ];
  for (const name of accepted) it(`accepts ${JSON.stringify(name)}`, () => assert.equal(isTemplateName(name), true));
  for (const name of refused) it(`refuses ${JSON.stringify(name)}`, () => assert.equal(isTemplateName(name), false));
  it('refuses what is not a string', () => {
    for (const v of [undefined, null, 1, ['base'], { name: 'base' }]) assert.equal(isTemplateName(v), false);
  });
});

describe('ids', () => {
  it('sandbox and template ids are a prefix and a lower-case ULID', () => {
    assert.equal(isSandboxId('sb_01hzy5v3k2m8q9r7t6w5x4y3z2'), true);
    assert.equal(isSandboxId('sb_01HZY5V3K2M8Q9R7T6W5X4Y3Z2'), false);
    assert.equal(isSandboxId('sb_../../etc/passwd000000000'), false);
    assert.equal(isTemplateId('tpl_01hzy5v3k2m8q9r7t6w5x4y3z2'), true);
    assert.equal(isTemplateId('sb_01hzy5v3k2m8q9r7t6w5x4y3z2'), false);
  });
});

describe('requireSandboxId / requireTemplateId', () => {
  const refusedAs = (message: string) => (e: unknown) => e instanceof WrennError && e.code === ErrorCode.ValidationFailed && e.message === message;
  it('pass an id of their kind and refuse anything else with 400 validation_failed naming it', () => {
    requireSandboxId('sb_01hzy5v3k2m8q9r7t6w5x4y3z2');
    requireTemplateId('tpl_01hzy5v3k2m8q9r7t6w5x4y3z2');
    assert.throws(() => requireSandboxId('tpl_01hzy5v3k2m8q9r7t6w5x4y3z2'), refusedAs('"tpl_01hzy5v3k2m8q9r7t6w5x4y3z2" is not a sandbox id'));
    assert.throws(() => requireSandboxId('../etc'), refusedAs('"../etc" is not a sandbox id'));
    assert.throws(() => requireSandboxId(undefined), refusedAs('"undefined" is not a sandbox id'));
    assert.throws(() => requireTemplateId('sb_01hzy5v3k2m8q9r7t6w5x4y3z2'), refusedAs('"sb_01hzy5v3k2m8q9r7t6w5x4y3z2" is not a template id'));
    assert.throws(() => requireTemplateId(42), refusedAs('"42" is not a template id'));
  });
});
