import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_TOKENS, queryTokensOf, searchTokensOf, wordsOf } from '../../src/services/search/blind-index';

const key = Buffer.alloc(32, 7);

describe('wordsOf', () => {
  it('normalizes case, compatibility forms and accents written either way', () => {
    expect(wordsOf('Café CAFÉ cafe\u0301')).toEqual(['café']);
    // NFKC folds full-width letters and ligatures into their plain forms.
    expect(wordsOf('ＨＥＬＬＯ ﬁne')).toEqual(['hello', 'fine']);
    // Accents are part of the word: "cafe" is another word.
    expect(wordsOf('cafe café')).toEqual(['cafe', 'café']);
  });

  it('splits on punctuation, symbols and whitespace and keeps digits', () => {
    expect(wordsOf("deploy-script, v2.0! (it's) e-mail@host 2026")).toEqual([
      'deploy',
      'script',
      'v2',
      'it',
      'mail',
      'host',
      '2026',
    ]);
    expect(wordsOf('привет, Мир! 東京 🚀 rocket')).toEqual(['привет', 'мир', '東京', 'rocket']);
  });

  it('keeps words of 2 to 64 characters, counted in code points', () => {
    expect(wordsOf('a bb')).toEqual(['bb']);
    expect(wordsOf(`${'x'.repeat(64)} ${'y'.repeat(65)}`)).toEqual(['x'.repeat(64)]);
    expect(wordsOf('𝒳𝒴')).toEqual(['xy']); // NFKC maps math letters to ASCII
  });

  it('de-duplicates in first-occurrence order', () => {
    expect(wordsOf('b a b c A B')).toEqual([]);
    expect(wordsOf('go to go TO now')).toEqual(['go', 'to', 'now']);
  });
});

describe('searchTokensOf / queryTokensOf', () => {
  it('is deterministic and agrees between message and query', () => {
    const stored = searchTokensOf(key, 'Has anyone tried the new deployment script?');
    expect(searchTokensOf(key, 'Has anyone tried the new deployment script?')).toEqual(stored);
    const query = queryTokensOf(key, 'DEPLOYMENT script');
    expect(query).toHaveLength(2);
    for (const token of query) expect(stored).toContain(token);
  });

  it('gives 16-byte base64url tokens that do not contain the word', () => {
    const [token] = searchTokensOf(key, 'secretword');
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(token ?? '', 'base64url')).toHaveLength(16);
    expect(token).not.toContain('secret');
  });

  it('gives different tokens under different keys and for different words', () => {
    const other = randomBytes(32);
    expect(searchTokensOf(key, 'hello')).not.toEqual(searchTokensOf(other, 'hello'));
    expect(searchTokensOf(key, 'hello')).not.toEqual(searchTokensOf(key, 'hellp'));
  });

  it('stores at most MAX_TOKENS distinct words and nothing for empty text', () => {
    const text = Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ');
    const tokens = searchTokensOf(key, text);
    expect(tokens).toHaveLength(MAX_TOKENS);
    expect(new Set(tokens).size).toBe(MAX_TOKENS);
    expect(tokens[0]).toBe(queryTokensOf(key, 'w0')[0]);
    expect(searchTokensOf(key, '  !! ? a ')).toEqual([]);
    expect(searchTokensOf(key, 'same Same SAME')).toHaveLength(1);
  });
});
