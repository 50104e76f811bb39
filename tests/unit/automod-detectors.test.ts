import { describe, expect, it } from 'vitest';
import {
  checkCaps,
  checkInvites,
  checkLinks,
  checkMentions,
  floodKeyText,
  linkHosts,
  wordMatcher,
} from '../../src/services/automod/detectors';
import { regexProblem } from '../../src/services/automod/regex';
import { matchRegexRules } from '../../src/services/automod/regex-runner';

// The content checks of auto-moderation as pure functions, and the regex worker with its deadline.

describe('words', () => {
  const match = wordMatcher(['spam*', '*coin', 'free money', 'Ünïcödé', 'bad']);
  it.each([
    ['SPAMMERS here', 'spam*'],
    ['buy bitcoin', '*coin'],
    ['get FREE,  money!', 'free money'],
    ['ünïcödé text', 'Ünïcödé'],
    ['that is bad.', 'bad'],
  ])('finds %j', (text, word) => expect(match(text)).toBe(word));
  it.each(['badge', 'a coins b', 'freedom money', 'spa'])('passes %j', (text) =>
    expect(match(text)).toBeNull(),
  );
});

describe('links and invites', () => {
  it('finds links with and without a scheme, not e-mail addresses or versions', () => {
    expect(linkHosts('see https://Example.com/x, www.foo.org and evil.xyz/path')).toEqual([
      'example.com',
      'www.foo.org',
      'evil.xyz',
    ]);
    expect(linkHosts('mail me at a@b.com about v1.2.3 or file.txt')).toEqual([]);
  });
  it('lets allowed domains and their subdomains through', () => {
    const config = { allowed_domains: ['example.org'] };
    expect(checkLinks('docs at https://docs.example.org/a', config)).toBeNull();
    expect(checkLinks('docs at https://example.org.evil.com/a', config)).toMatchObject({
      evidence: { links: 1 },
    });
  });
  it('knows invite links and extra hosts, not other links to the same sites', () => {
    const config = { extra_hosts: ['chat.example.net'] };
    for (const text of [
      'discord.gg/abc',
      'https://discord.com/invite/abc',
      't.me/+xyz',
      'https://chat.example.net/r/1',
    ])
      expect(checkInvites(text, config), text).not.toBeNull();
    for (const text of ['https://discord.com/channels/1/2', 't.me/somebody', 'https://example.net'])
      expect(checkInvites(text, config), text).toBeNull();
  });
});

describe('mentions, caps, flood text', () => {
  it('counts mentions past the limit', () => {
    expect(checkMentions('@ann @bob @cat', { max_mentions: 3 })).toBeNull();
    expect(checkMentions('@ann @bob @cat @dan', { max_mentions: 3 })).toMatchObject({
      evidence: { mentions: 4 },
    });
    expect(checkMentions('mail a@b.com', { max_mentions: 0 + 1 })).toBeNull();
  });
  it('measures capitals among letters, ignoring short texts', () => {
    const config = { max_percent: 70, min_letters: 10 };
    expect(checkCaps('OK!!', config)).toBeNull();
    expect(checkCaps('THIS IS LOUD 123', config)).toMatchObject({ evidence: { caps_percent: 100 } });
    expect(checkCaps('This Is Title Case Text', config)).toBeNull();
  });
  it('compares texts without case and spacing', () => {
    expect(floodKeyText('  Buy   NOW ')).toBe(floodKeyText('buy now'));
  });
});

describe('regex', () => {
  it('explains patterns that cannot be used', () => {
    expect(regexProblem(['ok', '(a)\\1'], false)).toMatch(/^Pattern 2 is not a valid regular expression/);
    expect(regexProblem(['(?<=a)b'], false)).toMatch(/^Pattern 1 is not a valid/);
    expect(regexProblem(['.{0,1000}x'], false)).toBe(
      'Pattern 1 is too complex (use smaller repetition counts)',
    );
    expect(regexProblem(Array(6).fill('.{0,90}x'), false)).toMatch(/too complex together/);
    expect(regexProblem(['(a+)+$', 'free\\s+money'], false)).toBeNull();
  });

  it('matches on the worker, and a job past its deadline is stopped without harming the next', async () => {
    const rule = { key: 'r1:1', patterns: ['nothing', 'free\\s+money'], caseSensitive: false };
    const hit = await matchRegexRules([rule], 'FREE   money', 5_000);
    expect(hit !== 'timeout' && hit.hits.get('r1:1')).toBe(1);
    // Ten rules of about 1,000 instructions against 4,000 characters: far past 10 ms.
    const heavy = Array.from({ length: 10 }, (_, i) => ({
      key: `h${i}:1`,
      patterns: ['.{0,490}x$'],
      caseSensitive: false,
    }));
    expect(await matchRegexRules(heavy, `${'a'.repeat(3_990)}xb`, 10)).toBe('timeout');
    const again = await matchRegexRules([rule], 'no match here', 5_000);
    expect(again).toEqual({ hits: new Map(), failed: [] });
  });
});
