import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subjectMatches } from './subject-match';

describe('subjectMatches', () => {
  it('matches NATS wildcards the way a consumer filter does', () => {
    assert.equal(subjectMatches('evt.>', 'evt.sandbox.sb_1'), true);
    assert.equal(subjectMatches('evt.>', 'evt'), false);
    assert.equal(subjectMatches('evt.sandbox.*', 'evt.sandbox.sb_1'), true);
    assert.equal(subjectMatches('evt.sandbox.*', 'evt.template.tpl_1'), false);
    assert.equal(subjectMatches('evt.sandbox.*', 'evt.sandbox.sb_1.extra'), false);
    assert.equal(subjectMatches('ns.evt.sandbox.*', 'ns.evt.sandbox.sb_1'), true);
    assert.equal(subjectMatches('ns.evt.sandbox.*', 'evt.sandbox.sb_1'), false);
    assert.equal(subjectMatches('evt.sandbox.sb_1', 'evt.sandbox.sb_1'), true);
  });
});
