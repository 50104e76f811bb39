import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateSshKeyPair } from '../../src/services/ssh-keys/ssh-keys';

const { utils } = ssh2;

// ssh2's own generator writes about 1 ed25519 key in 400 that no parser can read; the service
// throws such pairs away. 2,000 keys would hit that about five times over.
describe('generateSshKeyPair', () => {
  it('hands out only ed25519 pairs whose private key parses to the public key given with it', async () => {
    for (let i = 0; i < 2000; i++) {
      const pair = await generateSshKeyPair('ed25519', 'laptop');
      const parsed = utils.parseKey(pair.private);
      if (parsed instanceof Error || Array.isArray(parsed)) throw new Error(`key ${i} does not parse`);
      expect(`ssh-ed25519 ${parsed.getPublicSSH().toString('base64')}`).toBe(
        pair.public.trim().split(' ').slice(0, 2).join(' '),
      );
    }
  });
});
