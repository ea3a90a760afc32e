/** Minimal RS256 JWT signing and checking for the emulator's Entra and GitHub OIDC issuers. */
import { constants, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomUUID().replace(/-/g, ''), privateKey, publicKey };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export function signJwt(payload: Record<string, unknown>, key: SigningKey): string {
  const header = { typ: 'JWT', alg: 'RS256', kid: key.kid, x5t: key.kid };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = sign('RSA-SHA256', Buffer.from(input), key.privateKey);
  return `${input}.${b64url(sig)}`;
}

/** Decode without checking anything; null when the text is not a JWT. */
export function decodeJwt(
  token: string,
): { header: Record<string, unknown>; payload: Record<string, unknown> } | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    if (typeof header !== 'object' || header === null || typeof payload !== 'object' || payload === null)
      return null;
    return { header, payload };
  } catch {
    return null;
  }
}

/** The payload when the signature (RS256, or PS256 where allowed) verifies with `publicKey`; null otherwise. */
export function verifyJwtSignature(
  token: string,
  publicKey: KeyObject,
  algorithms: readonly ('RS256' | 'PS256')[] = ['RS256'],
): Record<string, unknown> | null {
  const decoded = decodeJwt(token);
  const alg = decoded?.header.alg;
  if (!decoded || (alg !== 'RS256' && alg !== 'PS256') || !algorithms.includes(alg)) return null;
  const [h, p, s] = token.split('.') as [string, string, string];
  const key =
    alg === 'PS256'
      ? {
          key: publicKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }
      : publicKey;
  const ok = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
  return ok ? decoded.payload : null;
}

/** The public key as a JWKS entry. */
export function jwk(key: SigningKey): Record<string, unknown> {
  const j = key.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { kty: 'RSA', use: 'sig', kid: key.kid, x5t: key.kid, n: j.n, e: j.e, alg: 'RS256' };
}
