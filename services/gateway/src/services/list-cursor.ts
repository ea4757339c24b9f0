import { ErrorCode, WrennError } from '@wrenn/contracts';

/**
 * The `cursor` of a directory listing: opaque to clients (base64url of JSON), holding the last
 * path of the page before and the listing it belongs to, so a cursor of one directory (or depth)
 * is refused for another rather than silently skipping entries.
 */
interface CursorBody {
  v: 1;
  dir: string;
  depth: number;
  after: string;
}

export function encodeListCursor(dir: string, depth: number, after: string): string {
  const body: CursorBody = { v: 1, dir, depth, after };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** The path to start after; 400 `validation_failed` for a cursor this listing did not hand out. */
export function decodeListCursor(cursor: string, dir: string, depth: number): string {
  let body: Partial<CursorBody> | null = null;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody>;
  } catch {
    /* refused below */
  }
  if (!body || body.v !== 1 || typeof body.after !== 'string' || !body.after) {
    throw new WrennError(ErrorCode.ValidationFailed, 'cursor is not one this API handed out (pass next_cursor as it came)');
  }
  if (body.dir !== dir || body.depth !== depth) {
    throw new WrennError(ErrorCode.ValidationFailed, 'cursor belongs to another listing (its path or depth differ)');
  }
  return body.after;
}
