import busboy from 'busboy';
import { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ConnectError } from '@connectrpc/connect';
import { isDirectoryEntry } from '../filesystem/entry-info';
import { resolvePath } from '../paths';
import type { SandboxSystem } from '../system/sandbox-system';
import { SandboxUser, Users } from '../users';

/** The sandbox a /files request acts on. */
export interface FilesContext {
  system: SandboxSystem;
  users: Users;
}

/** E2B's envd error shape: {code, message} with the HTTP status as code. */
function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code: status, message }));
}

function userFor(ctx: FilesContext, req: IncomingMessage, url: URL): Promise<SandboxUser> {
  return ctx.users.fromHeaders(req.headers as Record<string, string>, url.searchParams.get('username') ?? undefined);
}

/**
 * Writes a stream to `path` through a temporary file in the same directory, renamed into place
 * at the end: a reader never sees half a file, and a failed upload leaves none. Streams all the
 * way (the file is never held in memory).
 */
async function writeAtomically(ctx: FilesContext, source: Readable, path: string, user: SandboxUser): Promise<void> {
  await ctx.system.mkdirs(dirname(path), user);
  const target = await ctx.system.openWrite(path, user, 0o644);
  try {
    await pipeline(source, target.stream);
    await target.commit();
  } catch (error) {
    await target.abort().catch(() => undefined);
    throw error;
  }
}

function statusFor(error: unknown): number {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 404;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 507; // Insufficient Storage, as E2B's envd
  if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM') return 400;
  return 500;
}

/**
 * GET /files: streams a file out (pipeline keeps to the client's pace, so a large file never
 * sits in memory). 404 when missing, 400 for a directory, as E2B's envd answers.
 */
export async function downloadFile(ctx: FilesContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let user: SandboxUser;
  try {
    user = await userFor(ctx, req, url);
  } catch (error) {
    return fail(res, 401, (error as Error).message);
  }
  let path: string;
  try {
    path = resolvePath(url.searchParams.get('path') ?? '', user);
  } catch (error) {
    return fail(res, 400, (error as Error).message);
  }
  try {
    const entry = await ctx.system.entry(path, user);
    if (isDirectoryEntry(entry)) return fail(res, 400, `path '${path}' is a directory`);
    // Opened before answering 200, so an unreadable file still gets a proper error.
    const { stream, size } = await ctx.system.openRead(path, user);
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(size),
      'content-disposition': `attachment; filename="${encodeURIComponent(basename(path))}"`,
      'last-modified': new Date(entry.mtimeMs).toUTCString(),
    });
    await pipeline(stream, res);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail(res, 404, `path '${path}' does not exist`);
    else fail(res, statusFor(error), `${path}: ${(error as Error).message}`);
  }
}

type WriteInfo = { name: string; path: string; type: 'file' };

class UploadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The request body, gunzipped when the client compressed it (E2B's envd accepts that too). */
function requestBody(req: IncomingMessage): Readable {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'identity') return req;
  if (encoding === 'gzip') return req.pipe(createGunzip());
  throw new UploadError(415, `unsupported content encoding: ${encoding}`);
}

/**
 * multipart/form-data as E2B's SDKs send it: every part named "file" is one file. Its target is
 * the `path` query parameter when given, else the part's filename, which carries a whole path
 * (the SDK's multi-file write), so busboy must keep the directories. Parts are written one after
 * another as the body streams in; nothing is held in memory.
 */
async function multipartUpload(ctx: FilesContext, req: IncomingMessage, user: SandboxUser, pathParam: string | null): Promise<WriteInfo[]> {
  const parser = busboy({ headers: req.headers, preservePath: true, limits: { fieldSize: 1 << 20 } });
  const written: WriteInfo[] = [];
  const targets = new Set<string>();
  const writes: Array<Promise<void>> = [];
  let failure: unknown;
  parser.on('file', (field, stream, info) => {
    if (field !== 'file' || failure) {
      stream.resume(); // other fields are ignored, as E2B's envd does
      return;
    }
    let target: string;
    try {
      target = resolvePath(pathParam ?? info.filename ?? '', user);
    } catch (error) {
      failure = new UploadError(400, (error as Error).message);
      stream.resume();
      return;
    }
    if (targets.has(target)) {
      failure = new UploadError(400, `you cannot upload multiple files to the same path '${target}' in one upload request`);
      stream.resume();
      return;
    }
    targets.add(target);
    writes.push(
      writeAtomically(ctx, stream, target, user).then(
        () => void written.push({ name: basename(target), path: target, type: 'file' }),
        (error) => {
          failure ??= error;
          stream.resume(); // keep the parser moving so the request still completes
        },
      ),
    );
  });
  await pipeline(requestBody(req), parser);
  await Promise.all(writes);
  if (failure) throw failure;
  return written;
}

/**
 * POST /files (PUT too): multipart/form-data, or a raw application/octet-stream body written to
 * `path`. Answers 200 with [{name, path, type: "file"}] like E2B's envd; errors are
 * {code, message} with the HTTP status as code.
 */
export async function uploadFile(ctx: FilesContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let user: SandboxUser;
  try {
    user = await userFor(ctx, req, url);
  } catch (error) {
    return fail(res, 401, (error as Error).message);
  }
  const pathParam = url.searchParams.get('path');
  const mediaType = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  try {
    let written: WriteInfo[];
    if (mediaType === 'application/octet-stream') {
      if (!pathParam) throw new UploadError(400, 'path query parameter is required for raw body upload');
      const target = resolvePath(pathParam, user);
      await writeAtomically(ctx, requestBody(req), target, user);
      written = [{ name: basename(target), path: target, type: 'file' }];
    } else if (mediaType.startsWith('multipart/')) {
      written = await multipartUpload(ctx, req, user, pathParam);
    } else {
      throw new UploadError(400, `unsupported content type: ${mediaType || '(none)'}, expected multipart/form-data or application/octet-stream`);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(written));
  } catch (error) {
    if (error instanceof UploadError) fail(res, error.status, error.message);
    else if (error instanceof ConnectError) fail(res, 400, error.rawMessage);
    else fail(res, statusFor(error), (error as Error).message);
    // The client may still be sending: don't leave it writing into a closed exchange.
    req.resume();
  }
}
