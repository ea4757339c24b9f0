import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isNetworkInput } from './sandbox.dto';

describe('isNetworkInput', () => {
  it('takes an object of allow_out and deny_out only, so an unknown key is a 400, not silently ignored', () => {
    for (const ok of [{}, { allow_out: [] }, { deny_out: ['10.0.0.0/8'] }, { allow_out: [], deny_out: [] }]) assert.equal(isNetworkInput(ok), true, JSON.stringify(ok));
    for (const bad of [null, [], 'x', 1, { A: 1 }, { allow_out: [], allowOut: [] }, { allow_internet_access: false }]) assert.equal(isNetworkInput(bad), false, JSON.stringify(bad));
  });
});
