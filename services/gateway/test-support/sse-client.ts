import { ClientRequest, IncomingMessage, request } from 'node:http';

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comments: string[];
}

/** A minimal Server-Sent Events reader for tests: raw frames as the server wrote them. */
export class SseClient {
  readonly frames: SseFrame[] = [];
  status = 0;
  contentType = '';
  ended = false;
  private buffer = '';
  private req: ClientRequest | undefined;
  private listeners = new Set<() => void>();

  static async connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    await new Promise<void>((resolve, reject) => {
      client.req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res: IncomingMessage) => {
        client.status = res.statusCode ?? 0;
        client.contentType = String(res.headers['content-type'] ?? '');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => client.feed(chunk));
        res.on('end', () => {
          client.ended = true;
          client.notify();
        });
        res.on('error', () => undefined);
        resolve();
      });
      client.req.on('error', reject);
      client.req.end();
    });
    return client;
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    for (let cut = this.buffer.indexOf('\n\n'); cut >= 0; cut = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, cut);
      this.buffer = this.buffer.slice(cut + 2);
      const frame: SseFrame = { comments: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comments.push(line.slice(1).trim());
        else if (line.startsWith('id: ')) frame.id = line.slice(4);
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = line.slice(6);
      }
      this.frames.push(frame);
    }
    this.notify();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  /** Events (frames with data) received so far. */
  events(): Array<{ id: number; event: string; data: any }> {
    return this.frames.filter((f) => f.data !== undefined).map((f) => ({ id: Number(f.id), event: f.event ?? 'message', data: JSON.parse(f.data!) }));
  }

  /** The id an EventSource would send back as Last-Event-ID (ids on data-less frames count too). */
  lastEventId(): string | undefined {
    let id: string | undefined;
    for (const f of this.frames) if (f.id !== undefined) id = f.id;
    return id;
  }

  async until(check: (client: SseClient) => boolean, timeoutMs = 10_000, what = 'frames'): Promise<void> {
    if (check(this)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      const listener = () => {
        if (!check(this)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve();
      };
      this.listeners.add(listener);
    });
  }

  /** Drops the connection as a client going away would. */
  disconnect(): void {
    this.req?.destroy();
  }
}
