import { KvEntry, NatsConnection } from 'nats';

/**
 * The latest value of every key of a KV bucket that holds one (deleted and purged keys left out).
 *
 * The key list comes from the bucket's stream state (one subject per key) rather than from
 * `kv.keys()`: that runs an ordered consumer that stops when it sees no pending messages, and
 * with several writers updating their keys every few hundred milliseconds (host heartbeats) it
 * can stop after the first key, which made live hosts look unregistered.
 */
export async function kvLatest(nc: NatsConnection, bucket: string): Promise<KvEntry[]> {
  const jsm = await nc.jetstreamManager();
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
  const entries: KvEntry[] = [];
  for (const subject of Object.keys(info.state.subjects ?? {})) {
    const entry = await kv.get(subject.slice(prefix.length));
    if (entry && entry.operation === 'PUT' && entry.value.length > 0) entries.push(entry);
  }
  return entries;
}
