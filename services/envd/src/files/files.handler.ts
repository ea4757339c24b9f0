import busboy from 'busboy';
import { createReadStream, createWriteStream } from 'node:fs';
import { chown, lstat, rename, rm, stat } from 'node:fs/promises';
import { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
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
async function writeAtomically(source: Readable, path: string, user: SandboxUser): Promise<number> {
  await makeDirs(dirname(path), user);
  const temp = `${dirname(path)}/.${basename(path)}.wrenn-upload-${process.pid}-${Date.now()}`;
  let size = 0;
  source.on('data', (chunk: Buffer) => (size += chunk.length));
  try {
    await pipeline(source, createWriteStream(temp, { mode: 0o644 }));
    await chown(temp, user.uid, user.gid);
    await rename(temp, path);
    return size;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function statusFor(error: unknown): number {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 404;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 507;
  if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM') return 400;
  if ((error as { rawMessage?: string }).rawMessage?.includes('does not exist')) return 401;
  return 500;
}

/** GET /files: streams a file out. */
export async function downloadFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let path: string;
  try {
    path = resolvePath(url.searchParams.get('path') ?? '', userFor(req, url));
  } catch (error) {
    return fail(res, 401, (error as Error).message);
  }
  try {
    const st = await stat(path);
    if (st.isDirectory()) return fail(res, 400, `${path} is a directory`);
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(st.size),
      'content-disposition': `attachment; filename="${encodeURIComponent(basename(path))}"`,
    });
    await pipeline(createReadStream(path), res);
  } catch (error) {
    fail(res, statusFor(error), `${path}: ${(error as Error).message}`);
  }
}

/** POST /files: multipart/form-data (one or more file parts) or a raw application/octet-stream body. */
export async function uploadFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let user: SandboxUser;
  try {
    user = userFor(req, url);
  } catch (error) {
    return fail(res, 401, (error as Error).message);
  }
  const pathParam = url.searchParams.get('path');
  const contentType = req.headers['content-type'] ?? '';
  try {
    const written: Array<{ name: string; path: string; type: 'file' }> = [];
    if (contentType.startsWith('multipart/form-data')) {
      const parser = busboy({ headers: req.headers });
      const done: Array<Promise<void>> = [];
      parser.on('file', (_field, stream, info) => {
        const target = resolvePath(pathParam ?? info.filename ?? "upload", user);
        done.push(
          writeAtomically(stream, target, user).then(() => {
            written.push({ name: basename(target), path: target, type: 'file' });
          }),
        );
      });
      await pipeline(req, parser);
      await Promise.all(done);
      if (written.length === 0) return fail(res, 400, 'no file part in the upload');
    } else {
      if (!pathParam) return fail(res, 400, 'the path query parameter is required for a raw upload');
      const target = resolvePath(pathParam, user);
      await writeAtomically(req, target, user);
      written.push({ name: basename(target), path: target, type: 'file' });
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(written));
  } catch (error) {
    fail(res, statusFor(error), (error as Error).message);
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isDirectory() ?? false;
}
