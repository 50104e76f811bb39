import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../../src/services/auth/sessions';
import { releaseStreamOffline } from '../../src/services/streams/holds';
import type { WentOffline } from '../../src/services/streams/lifecycle';
import { createUser } from '../../src/services/users/accounts';
import { type Cluster, clusterSkipReason, startCluster } from '../helpers/cluster';
import { api, uniqueName } from '../helpers/identity';
import { ok } from '../helpers/rooms';
import { HOOK_SECRET, livePath, makeStream, mediamtx } from '../helpers/streams';

// Two nodes behind one load balancer: MediaMTX's ready hook reaches node A, which owns the session
// (its relays and recording would run there), and not-ready reaches node B. B asks A over the Bus
// to run the went-offline listeners, so A's processes stop and A's hold keeps is_live at 2.

const skipReason = await clusterSkipReason();
if (skipReason) console.warn(`Skipping the stream cluster test: ${skipReason}`);

let cluster: Cluster;

beforeAll(async () => {
  if (skipReason) return;
  cluster = await startCluster(2, { MEDIAMTX_HOOK_SECRET: HOOK_SECRET });
});
afterAll(async () => {
  await cluster?.stop();
});

describe.skipIf(skipReason !== undefined)('stream lifecycle in a cluster', () => {
  it('runs went-offline on the node that owns the session, whichever node MediaMTX calls', async () => {
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    const user = await createUser(a.deps.database.db, {
      username: uniqueName(),
      password: 'correct horse battery',
    });
    const { token } = await createSession(a.deps.database.db, a.deps.secretKey, { user, method: 'password' });
    const s = await makeStream(a, { id: user.id, username: user.username, token });
    const path = livePath(s.stream_key);

    const ranOn: string[] = [];
    const offs: Array<() => void> = [];
    for (const [name, node] of [
      ['a', a],
      ['b', b],
    ] as const) {
      offs.push(
        node.deps.streamLifecycle.onWentOffline(async (e: WentOffline) => {
          if (e.streamId !== s.id) return;
          ranOn.push(name);
          await e.hold('test:vod');
        }),
      );
    }
    try {
      expect(await ok(mediamtx(() => a).ready(path))).toMatchObject({ is_live: 1 });
      expect(await ok(mediamtx(() => b).notReady(path))).toEqual({ stream_id: s.id, is_live: 2 });
      expect(ranOn).toEqual(['a']);
      expect((await ok(api(b, 'GET', `/api/streams/${s.id}`, { token }))).is_live).toBe(2);
      await releaseStreamOffline({ db: b.deps.database.db }, { streamId: s.id, holder: 'test:vod' });
      expect((await ok(api(a, 'GET', `/api/streams/${s.id}`, { token }))).is_live).toBe(0);
    } finally {
      for (const off of offs) off();
    }
  });
});
