import { IncomingMessage } from 'node:http';

/**
 * What envd says when it refuses a call is read to show the caller, never to keep: a sandbox's
 * envd is the sandbox's own code, so its error body is read up to a bound and the rest dropped
 * (the socket is destroyed rather than drained, so a body without end costs nothing either).
 */
export const DEFAULT_ENVD_ERROR_BODY_MAX = 64 * 1024;

export interface BoundedText {
  text: string;
  /** True when the body went on past the bound and was cut. */
  truncated: boolean;
}

/** Reads at most `max` bytes of a response; past them the response is destroyed. */
export async function readBounded(stream: IncomingMessage, max: number): Promise<BoundedText> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const room = max - size;
    if (chunk.length > room) {
      if (room > 0) chunks.push(chunk.subarray(0, room));
      size = max;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  if (truncated) stream.destroy();
  return { text: Buffer.concat(chunks).toString('utf8'), truncated };
}

/** The same for a fetch() response body. */
export async function readBoundedFetch(res: Response, max: number): Promise<BoundedText> {
  if (!res.body) return { text: '', truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = max - size;
    if (value.length > room) {
      if (room > 0) chunks.push(value.subarray(0, room));
      size = max;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated };
}
