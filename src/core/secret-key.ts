import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const KEY_FILE = 'secret.key';

/**
 * PORTAL_SECRET_KEY when set; otherwise a random key generated into DATA_DIR on first start
 * (mode 0600) and reused afterwards. Cluster nodes must share PORTAL_SECRET_KEY instead.
 * The configured text is hashed to exactly 32 bytes for AES-256-GCM and HMAC.
 */
export function loadSecretKey(
  configured: string | undefined,
  dataDir: string,
): { key: Buffer; source: 'env' | 'file' | 'generated' } {
  if (configured) return { key: deriveKey(configured), source: 'env' };
  const file = join(dataDir, KEY_FILE);
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (text.length >= 32) return { key: deriveKey(text), source: 'file' };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const text = randomBytes(32).toString('base64url');
  writeFileSync(file, `${text}\n`, { mode: 0o600, flag: 'w' });
  chmodSync(file, 0o600);
  return { key: deriveKey(text), source: 'generated' };
}

const deriveKey = (text: string) => createHash('sha256').update(`portal-secret-key:${text}`).digest();
