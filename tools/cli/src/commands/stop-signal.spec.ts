import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stopSignalHandler } from './stop-signal';

describe('wrenn start: stop signals', () => {
  const harness = () => {
    let clock = 0;
    const stops: string[] = [];
    const exits: number[] = [];
    const handle = stopSignalHandler(async (signal) => void stops.push(signal), { duplicateMs: 2000, exit: (code) => exits.push(code), now: () => clock });
    return { handle, stops, exits, advance: (ms: number) => (clock += ms) };
  };

  it('stops once when one Ctrl-C arrives twice (the process group and the npm wrapper)', () => {
    const h = harness();
    h.handle('SIGINT');
    h.advance(5);
    h.handle('SIGINT');
    assert.deepEqual(h.stops, ['SIGINT']);
    assert.deepEqual(h.exits, [], 'the duplicate must not cut the teardown short');
  });

  it('exits at once on a second signal sent later, while the stop drags', () => {
    const h = harness();
    h.handle('SIGTERM');
    h.advance(2500);
    h.handle('SIGTERM');
    assert.deepEqual(h.stops, ['SIGTERM']);
    assert.deepEqual(h.exits, [1]);
  });
});
