import { Controller, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import busboy from 'busboy';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { FileQuery, ListQuery } from '../dtos/sandbox.dto';
import { SandboxDataService } from '../services/sandbox-data.service';
import { CurrentCaller } from '../auth/access.decorators';
import type { Caller } from '../auth/caller';
import type { JsonAnswer } from '../dtos/wire';

/**
 * Writes chunks to the response honouring backpressure (a slow client slows the source). A client
 * that hangs up never drains: leaving the loop then hands the source back, which closes the
 * sandbox's file stream and ends the download's hold on the sandbox's inactivity timer.
 */
async function pipeOut(chunks: AsyncIterable<Uint8Array>, res: Response): Promise<void> {
  let gone = res.destroyed;
  let wake: (() => void) | undefined;
  const onClose = () => {
    gone = true;
    wake?.();
  };
  res.once('close', onClose);
  try {
    for await (const chunk of chunks) {
      if (gone) return;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once('drain', resolve);
        });
        res.removeListener('drain', wake!);
        wake = undefined;
        if (gone) return;
      }
    }
    res.end();
  } catch (error) {
    // The status line is gone: the only honest answer left is to cut the transfer off, so the
    // client sees a failed download rather than waiting forever for the rest of it.
    res.destroy();
    throw error;
  } finally {
    res.removeListener('close', onClose);
  }
}

/**
 * The first file part of a multipart body, as a stream (nothing is buffered). `malformed()` says
 * whether the body turned out broken (e.g. cut off before its closing boundary) after the part
 * was handed out.
 */
function firstFilePart(req: Request): Promise<{ stream: Readable; filename: string; malformed: () => WrennError | undefined }> {
  return new Promise((resolve, reject) => {
    // busboy refuses a malformed body (no boundary, broken framing) by throwing or emitting a plain
    // Error: that is the client's mistake, a 400, not a 500.
    const malformed = (error: unknown) => new WrennError(ErrorCode.ValidationFailed, `the multipart body is malformed: ${(error as Error).message}`);
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1 } });
    } catch (error) {
      reject(malformed(error));
      return;
    }
    let found = false;
    let failure: WrennError | undefined;
    parser.on('file', (_name, stream, info) => {
      found = true;
      // The part can fail before anyone reads it (the sandbox is still being looked up): an
      // 'error' without a listener would stop the process. Readers still see the error.
      stream.on('error', (error) => (failure ??= malformed(error)));
      resolve({ stream, filename: info.filename ?? 'upload', malformed: () => failure });
    });
    parser.on('error', (error) => {
      failure ??= malformed(error);
      reject(failure);
    });
    parser.on('close', () => {
      if (!found) reject(new WrennError(ErrorCode.ValidationFailed, 'the multipart body has no file part'));
    });
    req.pipe(parser);
  });
}

/**
 * Files of a sandbox. Uploads stream from the request straight into the data plane (raw body
 * with PUT, multipart with POST); downloads stream back out. No size limit here: the sandbox's
 * disk is the limit.
 */
@Controller('v1/sandboxes/:id/files')
export class FilesController {
  constructor(private readonly data: SandboxDataService) {}

  @Put()
  @HttpCode(200)
  async putRaw(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: FileQuery, @Req() req: Request): Promise<JsonAnswer<'/v1/sandboxes/{id}/files', 'put'>> {
    return this.data.upload(caller, id, query.path, query.user, req);
  }

  @Post()
  @HttpCode(200)
  async postMultipart(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: FileQuery, @Req() req: Request): Promise<JsonAnswer<'/v1/sandboxes/{id}/files', 'post'>> {
    if (!req.headers['content-type']?.startsWith('multipart/form-data')) {
      throw new WrennError(ErrorCode.ValidationFailed, 'POST takes multipart/form-data; use PUT for a raw body');
    }
    const part = await firstFilePart(req);
    try {
      return await this.data.upload(caller, id, query.path, query.user, part.stream);
    } catch (error) {
      // A body cut off mid-part fails the upload: that is the client's malformed request.
      throw part.malformed() ?? error;
    }
  }

  @Get()
  async download(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: FileQuery, @Res() res: Response): Promise<void> {
    const chunks = await this.data.download(caller, id, query.path, query.user);
    res.status(200).setHeader('content-type', 'application/octet-stream');
    await pipeOut(chunks, res);
  }

  @Get('list')
  async list(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: ListQuery): Promise<JsonAnswer<'/v1/sandboxes/{id}/files/list', 'get'>> {
    return this.data.list(caller, id, query);
  }
}
