import { DATA_PLANE_VERIFY_KEY_ENTRY } from '@wrenn/contracts';
import type { Naming } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { NatsConnection } from 'nats';
import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { generateHostTokenKeys, keyIdOf, VerifyKeySource } from './host-token';

/** The signing key's entry in the secrets bucket (readable by the gateway only). */
export const HOST_TOKEN_SIGNING_KEY_ENTRY = 'data-plane-signing-key';
/** The matching public key's entry in the public-keys bucket (readable by host agents). */
export const HOST_TOKEN_VERIFY_KEY_ENTRY = DATA_PLANE_VERIFY_KEY_ENTRY;

/**
 * How often an agent may look the key up again when a token names a key id it does not hold
 * (often while it has none yet: the first gateway may publish it just now).
 */
const REFRESH_INTERVAL_MS = 5_000;
const FIRST_LOOKUP_INTERVAL_MS = 500;

/** A key from configuration: PEM, or the DER bytes in base64 (PKCS#8 private, SPKI public). */
export function parseKey(text: string, kind: 'private' | 'public'): KeyObject {
  const trimmed = text.trim();
  const key = trimmed.startsWith('-----BEGIN')
    ? kind === 'private' ? createPrivateKey(trimmed) : createPublicKey(trimmed)
    : kind === 'private'
      ? createPrivateKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' })
      : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the data-plane ${kind} key must be Ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

/**
 * The gateway's signing key: the configured one (WRENN_DATA_PLANE_SIGNING_KEY), or one generated
 * once into the NATS KV bucket of platform secrets (first writer wins, so every replica and
 * restart signs with the same key) — where the envd token key lives too. Its public half is
 * published to the public-keys bucket for the agents.
 */
export async function loadSigningKey(nc: NatsConnection, names: Naming, configured: string | undefined): Promise<KeyObject> {
  let privateKey: KeyObject;
  if (configured) {
    privateKey = parseKey(configured, 'private');
  } else {
    const secrets = await nc.jetstream().views.kv(names.secretsBucket, { history: 1 });
    const fresh = generateHostTokenKeys().privateKey.export({ format: 'der', type: 'pkcs8' });
    try {
      await secrets.create(HOST_TOKEN_SIGNING_KEY_ENTRY, fresh);
    } catch {
      // Another replica (or an earlier run) made it first: use theirs.
    }
    const entry = await secrets.get(HOST_TOKEN_SIGNING_KEY_ENTRY);
    if (!entry?.value.length) throw new Error(`${HOST_TOKEN_SIGNING_KEY_ENTRY} is missing from ${names.secretsBucket}`);
    privateKey = createPrivateKey({ key: Buffer.from(entry.value), format: 'der', type: 'pkcs8' });
  }
  await publishVerifyKey(nc, names, createPublicKey(privateKey));
  return privateKey;
}

async function publishVerifyKey(nc: NatsConnection, names: Naming, publicKey: KeyObject): Promise<void> {
  const kv = await nc.jetstream().views.kv(names.publicKeysBucket, { history: 1 });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const current = await kv.get(HOST_TOKEN_VERIFY_KEY_ENTRY);
  if (current?.value.length && Buffer.from(current.value).equals(spki)) return;
  await kv.put(HOST_TOKEN_VERIFY_KEY_ENTRY, spki);
}

/**
 * An agent's verify key: the configured one (WRENN_DATA_PLANE_VERIFY_KEY: pinned, the safest in a
 * multi-host deployment), or the one the gateway published, read when first needed and again when
 * a token names another key id (at most every few seconds, so junk tokens cannot make the agent
 * hammer NATS). Until a gateway has published one, every token is refused.
 */
export function verifyKeySource(nc: NatsConnection, names: Naming, configured: string | undefined, log: Logger): VerifyKeySource {
  if (configured) {
    const pinned = parseKey(configured, 'public');
    return async () => pinned;
  }
  let cached: { key: KeyObject; kid: string } | undefined;
  let lastLookup = 0;
  let lookup: Promise<void> | undefined;
  const refresh = async () => {
    lastLookup = Date.now();
    try {
      const kv = await nc.jetstream().views.kv(names.publicKeysBucket, { bindOnly: true });
      const entry = await kv.get(HOST_TOKEN_VERIFY_KEY_ENTRY);
      if (!entry?.value.length) return;
      const key = createPublicKey({ key: Buffer.from(entry.value), format: 'der', type: 'spki' });
      const kid = await keyIdOf(key);
      if (cached?.kid !== kid) log.info({ kid }, 'data-plane verify key loaded');
      cached = { key, kid };
    } catch (error) {
      log.warn({ err: error }, 'data-plane verify key not available');
    }
  };
  return async (kid) => {
    if (cached && (kid === undefined || kid === cached.kid)) return cached.key;
    if (Date.now() - lastLookup >= (cached ? REFRESH_INTERVAL_MS : FIRST_LOOKUP_INTERVAL_MS)) lookup ??= refresh().finally(() => (lookup = undefined));
    if (lookup) await lookup;
    return cached?.key ?? null;
  };
}
