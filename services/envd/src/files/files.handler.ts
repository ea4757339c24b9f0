import busboy from 'busboy';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chown, lstat, rename, rm, stat } from 'node:fs/promises';
import { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ConnectError } from '@connectrpc/connect';
import { makeDirs } from '../filesystem/filesystem.service';
import { resolvePath } from '../paths';
import { SandboxUser, userFromHeaders } from '../users';

/** E2B's envd error shape: {code, message} with the HTTP status as code. */
function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code: status, message }));
}

function userFor(req: IncomingMessage, url: URL): SandboxUser {
  return userFromHeaders(req.headers as Record<string, string>, url.searchParams.get('username') ?? undefined);
}

/**
 * Writes a stream to `path` through a temporary file in the same directory, renamed into place
 * at the end: a reader never sees half a file, and a failed upload leaves none. Streams all the
 * way (the file is never held in memory).
 */
async function writeAtomically(source: Readable, path: string, user: SandboxUser): Promise<void> {
  await makeDirs(dirname(path), user);
  const temp = `${dirname(path)}/.${basename(path)}.wrenn-upload-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await pipeline(source, createWriteStream(temp, { mode: 0o644 }));
    await chown(temp, user.uid, user.gid);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
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
export async function downloadFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let user: SandboxUser;
  try {
    user = userFor(req, url);
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
    const st = await stat(path);
    if (st.isDirectory()) return fail(res, 400, `path '${path}' is a directory`);
    const file = createReadStream(path);
    // Open before answering 200, so an unreadable file still gets a proper error.
    await new Promise<void>((resolve, reject) => file.once('open', () => resolve()).once('error', reject));
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(st.size),
      'content-disposition': `attachment; filename="${encodeURIComponent(basename(path))}"`,
      'last-modified': st.mtime.toUTCString(),
    });
    await pipeline(file, res);
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
async function multipartUpload(req: IncomingMessage, user: SandboxUser, pathParam: string | null): Promise<WriteInfo[]> {
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
      writeAtomically(stream, target, user).then(
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
export async function uploadFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let user: SandboxUser;
  try {
    user = userFor(req, url);
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
      await writeAtomically(requestBody(req), target, user);
      written = [{ name: basename(target), path: target, type: 'file' }];
    } else if (mediaType.startsWith('multipart/')) {
      written = await multipartUpload(req, user, pathParam);
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

export async function isDirectory(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isDirectory() ?? false;
}
