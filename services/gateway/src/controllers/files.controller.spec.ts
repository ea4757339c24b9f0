import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createServer, get, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Response } from 'express';
import { FileQuery } from '../dtos/sandbox.dto';
import type { Caller } from '../auth/caller';
import type { SandboxDataService } from '../services/sandbox-data.service';
import { FilesController } from './files.controller';

const CALLER: Caller = { teamId: 'team_a', actor: { kind: 'api_key', id: 'key_a' } };

/** Stands in for the data plane: a file that never ends, which notes when its reader lets go. */
class EndlessFile {
  released = false;
  async download(): Promise<AsyncIterable<Uint8Array>> {
    const self = this;
    return (async function* () {
      try {
        for (;;) yield new Uint8Array(64 * 1024);
      } finally {
        self.released = true;
      }
    })();
  }
}

describe(FilesController.name, () => {
  it('stops reading the sandbox file when the downloading client hangs up', async () => {
    const file = new EndlessFile();
    const controller = new FilesController(file as unknown as SandboxDataService);
    let handled: Promise<void> | undefined;
    const server = createServer((_req, plain: ServerResponse) => {
      // The one bit of Express's response the controller uses beyond Node's.
      const res = Object.assign(plain, { status: (code: number) => ((plain.statusCode = code), res) }) as unknown as Response;
      handled = controller.download(CALLER, 'sbx_1', { path: '/big' } as FileQuery, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((resolve, reject) => {
        const req = get(`http://127.0.0.1:${port}/`, (res) => {
          // Read one chunk, then hang up the way a cancelled download does.
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => undefined);
        setTimeout(() => reject(new Error('no download started')), 5000).unref();
      });
      const deadline = Date.now() + 3000;
      while (!file.released && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(file.released, 'the source stream is released once the client is gone');
      await handled;
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('cuts the response off when the sandbox file fails mid-transfer, so the client is not left waiting', async () => {
    const failing = {
      async download(): Promise<AsyncIterable<Uint8Array>> {
        return (async function* () {
          yield new Uint8Array(1024);
          throw new Error('the sandbox went away');
        })();
      },
    };
    const controller = new FilesController(failing as unknown as SandboxDataService);
    const server = createServer((_req, plain: ServerResponse) => {
      const res = Object.assign(plain, { status: (code: number) => ((plain.statusCode = code), res) }) as unknown as Response;
      // Nest's error filter finds the headers sent and can answer nothing more.
      controller.download(CALLER, 'sbx_1', { path: '/big' } as FileQuery, res).catch(() => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('still waiting'), 3000);
        const req = get(`http://127.0.0.1:${port}/`, (res) => {
          res.resume();
          res.on('end', () => (clearTimeout(timer), resolve('ended as if complete')));
          res.on('aborted', () => (clearTimeout(timer), resolve('cut off')));
          res.on('error', () => (clearTimeout(timer), resolve('cut off')));
        });
        req.on('error', () => (clearTimeout(timer), resolve('cut off')));
      });
      assert.equal(outcome, 'cut off');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

});
