import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, testEnvVars } from '../helpers/env';
import { runToExit } from '../helpers/spawn';

// `npm run admin -- automod …` and `audit` with filters as operators run them: their own process,
// opening the embedded database itself, one JSON object on stdout with --json.

const dir = makeTempDir();
afterAll(() => removeDir(dir));
const env = { DATA_DIR: `${dir}/data` };

async function cli(...args: string[]) {
  const result = await runToExit(['--import', 'tsx', 'src/cli/main.ts', ...args, '--json'], testEnvVars(env));
  const lines = result.stdout.trim().split('\n');
  expect(lines, `stdout of ${args.join(' ')}: ${result.stdout}\nstderr: ${result.stderr}`).toHaveLength(1);
  // biome-ignore lint/suspicious/noExplicitAny: answers are loose JSON, checked by the assertions
  return { code: result.code, json: JSON.parse(lines[0]!) as Record<string, any> };
}

describe('automod and audit commands', () => {
  it('add, test, disable and list rules; refuse bad ones; filter the audit log', async () => {
    const added = await cli(
      'automod',
      'add',
      'No slurs',
      '--kind',
      'words',
      '--word',
      'badword, other*',
      '--action',
      'block',
    );
    expect(added.code).toBe(0);
    expect(added.json).toMatchObject({
      name: 'No slurs',
      kind: 'words',
      action: 'block',
      config: { words: ['badword', 'other*'] },
      contexts: ['channel', 'dm', 'room'],
      channel_ids: null,
      enabled: true,
    });

    const timed = await cli(
      'automod',
      'add',
      'Scams',
      '--kind',
      'regex',
      '--pattern',
      'free\\s+money',
      '--pattern',
      'easy\\s+cash',
      '--action',
      'timeout',
      '--timeout-minutes',
      '30',
      '--contexts',
      'channel,dm',
      '--channels',
      '3,4',
    );
    expect(timed.code).toBe(0);
    expect(timed.json).toMatchObject({
      timeout_minutes: 30,
      contexts: ['channel', 'dm'],
      channel_ids: [3, 4],
    });

    const bad = await cli(
      'automod',
      'add',
      'Broken',
      '--kind',
      'regex',
      '--pattern',
      '(a)\\1',
      '--action',
      'block',
    );
    expect(bad.code).toBe(1);
    expect(bad.json).toMatchObject({
      status: 400,
      error: expect.stringMatching(/^Pattern 1 is not a valid regular expression/),
    });
    const noAction = await cli('automod', 'add', 'Loud', '--kind', 'caps');
    expect(noAction.json).toEqual({ error: '--action is required', status: 400 });
    const badJson = await cli(
      'automod',
      'add',
      'Loud',
      '--kind',
      'caps',
      '--action',
      'warn',
      '--config',
      '[1]',
    );
    expect(badJson.code).toBe(1);
    expect(badJson.json).toEqual({ error: '--config must be a JSON object', status: 400 });

    const test = await cli('automod', 'test', '--text', 'Some FREE money and a badword', '--channel', '3');
    expect(test.json).toMatchObject({ action: 'timeout', unchecked_rule_ids: [] });
    expect(test.json.triggered.map((t: { name: string }) => t.name)).toEqual(['No slurs', 'Scams']);
    const elsewhere = await cli('automod', 'test', '--text', 'free money', '--channel', '9');
    expect(elsewhere.json.action).toBeNull();

    const off = await cli('automod', 'disable', String(added.json.id));
    expect(off.json).toMatchObject({ id: added.json.id, enabled: false });
    const listed = await cli('automod', 'list');
    expect(listed.json.rules.map((r: { enabled: boolean }) => r.enabled)).toEqual([false, true]);

    const log = await cli('audit', '--action', 'automod.*');
    expect(log.json.entries.map((e: { action: string }) => e.action)).toEqual([
      'automod.rule_update',
      'automod.rule_create',
      'automod.rule_create',
    ]);
    expect(log.json).toMatchObject({ total: 3, limit: 50, offset: 0 });
    const page = await cli(
      'audit',
      '--actor',
      'system',
      '--target',
      `automod_rule:${added.json.id}`,
      '--limit',
      '1',
      '--offset',
      '1',
    );
    expect(page.json).toMatchObject({
      total: 2,
      entries: [{ action: 'automod.rule_create', actor: 'system' }],
    });
    const since = await cli('audit', '--since', 'yesterday');
    expect(since.json).toEqual({ error: 'since must be an ISO 8601 date-time', status: 400 });

    const gone = await cli('automod', 'delete', String(timed.json.id));
    expect(gone.json).toEqual({ success: true, id: timed.json.id });
  }, 240_000);
});
