import { randomUUID } from 'node:crypto';
import { and, eq, notInArray } from 'drizzle-orm';
import { z } from 'zod';
import { busRequest, serveBusRequests } from '../../core/bus/request';
import type { Bus } from '../../core/bus/types';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { rooms } from '../../db/schema';
import { browserNotRunning } from './browser/browser-errors';
import type { BrowserInput, BrowserRuntime, BrowserSession } from './browser/runtime';
import { evictFromRoom, publishRoomEvent } from './events';
import type { RoomRow } from './types';

// The node side of shared browsers. A room's Chromium runs on the node that started it
// (`rooms.browser_node`); every other node reaches it over the Bus: stop, screenshot and clipboard
// as requests, input as fire-and-forget messages, and screen frames as a Bus topic that the owner
// publishes while another node holds a watch lease. The database row says whether a room is
// running; nodes that die are noticed through the `browser-nodes` presence set and their rooms
// are marked stopped. The host also keeps its own list of the sessions it opened, so a session
// whose row went away (destroyed while starting, the owner's account deleted) is closed too.

export type BrowserHostDeps = {
  db: Db;
  bus: Bus;
  log: Logger;
  secretBox: SecretBox;
  runtime: BrowserRuntime;
  /** Stop a running browser when no member has been connected to the room for this long. */
  idleSeconds: number;
};

export type FrameListener = (jpeg: Buffer) => void;

export type BrowserHost = ReturnType<typeof createBrowserHost>;

const NODES_SET = 'browser-nodes';
const NODE_TTL_MS = 60_000;
const NODE_REFRESH_MS = 20_000;
const REQUEST_TIMEOUT_MS = 5_000;
const LEASE_MS = 30_000;
const LEASE_RENEW_MS = 10_000;

/** Cluster-wide presence of members connected to a room (the portal hub keeps it). */
export const roomViewersSet = (roomId: number) => `room-viewers:${roomId}`;

const nodeTopic = (nodeId: string) => `portal.browser.${nodeId}`;
const inputTopic = (nodeId: string) => `portal.browser-input.${nodeId}`;
const screenTopic = (roomId: number) => `portal.screen.${roomId}`;

const ZNodeRequest = z.discriminatedUnion('op', [
  z.object({ op: z.literal('stop'), room_id: z.number().int() }),
  z.object({ op: z.literal('screenshot'), room_id: z.number().int() }),
  z.object({ op: z.literal('clipboard'), room_id: z.number().int(), text: z.string() }),
  z.object({ op: z.literal('watch'), room_id: z.number().int(), node_id: z.string() }),
]);
type NodeRequest = z.infer<typeof ZNodeRequest>;

export function createBrowserHost(deps: BrowserHostDeps) {
  const { db, bus, runtime } = deps;
  const log = deps.log.child({ component: 'browser-host' });
  const nodeId = randomUUID();
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  /** Rooms running here → other nodes' watch leases (node id → expiry). */
  const leases = new Map<number, { nodes: Map<string, number>; stopFrames: () => void }>();
  const idleSince = new Map<number, number>();
  /** Rooms claimed in the database whose Chromium context is still opening. */
  const launching = new Set<number>();
  /** Rooms this node is stopping on purpose: their session's close is not a crash. */
  const stopping = new Set<number>();
  /** Sessions this node opened and has not closed, whatever the database says. */
  const opened = new Set<number>();

  const localSession = (roomId: number): BrowserSession | undefined => runtime.get(roomId);

  async function markStopped(roomId: number, reason: string, onlyNode?: string) {
    const where = onlyNode
      ? and(eq(rooms.id, roomId), eq(rooms.browserNode, onlyNode))
      : eq(rooms.id, roomId);
    const [row] = await db
      .update(rooms)
      .set({ browserState: 'stopped', browserNode: null, browserStartedAt: null, controlUserId: null })
      .where(where)
      .returning({ id: rooms.id });
    if (!row) return;
    idleSince.delete(roomId);
    await publishRoomEvent(deps, roomId, { type: 'chat_state', state: 'stopped', reason });
    await publishRoomEvent(deps, roomId, { type: 'control_state', holder_user_id: null });
  }

  async function storeClipboard(roomId: number, text: string) {
    await db
      .update(rooms)
      .set({ clipboard: deps.secretBox.encrypt(text) })
      .where(eq(rooms.id, roomId));
    await publishRoomEvent(deps, roomId, { type: 'clipboard', text });
  }

  function wireSession(roomId: number, session: BrowserSession) {
    session.onClipboard((text) => {
      storeClipboard(roomId, text).catch((err) => log.warn({ err, room_id: roomId }, 'clipboard not stored'));
    });
    session.onClosed(() => {
      opened.delete(roomId);
      if (stopping.has(roomId)) return;
      leases.get(roomId)?.stopFrames();
      leases.delete(roomId);
      markStopped(roomId, 'crashed', nodeId).catch((err) =>
        log.warn({ err, room_id: roomId }, 'could not mark a closed browser stopped'),
      );
    });
  }

  /**
   * Starts the room's browser on this node; a room already running (anywhere) is returned as is.
   * The row is claimed first and checked again once the context is open: a destroy or stop that
   * landed meanwhile closes the new context instead of leaving it behind.
   */
  async function launch(room: RoomRow): Promise<RoomRow> {
    const now = new Date();
    const [claimed] = await db
      .update(rooms)
      .set({ browserState: 'running', browserNode: nodeId, browserStartedAt: now })
      .where(and(eq(rooms.id, room.id), eq(rooms.browserState, 'stopped')))
      .returning();
    if (!claimed) {
      const [current] = await db.select().from(rooms).where(eq(rooms.id, room.id));
      if (!current) throw new AppError('NOT_FOUND', 'Chat not found');
      return current;
    }
    launching.add(room.id);
    try {
      const session = await runtime.start(room.id, {
        url: claimed.startUrl,
        width: claimed.viewportWidth,
        height: claimed.viewportHeight,
      });
      opened.add(room.id);
      wireSession(room.id, session);
    } catch (err) {
      await db
        .update(rooms)
        .set({ browserState: 'stopped', browserNode: null, browserStartedAt: null })
        .where(and(eq(rooms.id, room.id), eq(rooms.browserNode, nodeId)));
      throw err;
    } finally {
      launching.delete(room.id);
    }
    const [still] = await db
      .select({ state: rooms.browserState, node: rooms.browserNode })
      .from(rooms)
      .where(eq(rooms.id, room.id));
    if (still?.state !== 'running' || still.node !== nodeId) {
      await stopLocal(room.id, 'stopped');
      if (!still) throw new AppError('NOT_FOUND', 'Chat not found');
      throw new AppError('CONFLICT', 'The browser was stopped while it was starting');
    }
    idleSince.set(room.id, Date.now());
    log.info({ room_id: room.id }, 'room browser started');
    await publishRoomEvent(deps, room.id, {
      type: 'chat_state',
      state: 'running',
      started_at: now.toISOString(),
    });
    return claimed;
  }

  async function stopLocal(roomId: number, reason: string) {
    leases.get(roomId)?.stopFrames();
    leases.delete(roomId);
    stopping.add(roomId);
    try {
      await runtime.stop(roomId);
      opened.delete(roomId);
      await markStopped(roomId, reason, nodeId);
    } finally {
      stopping.delete(roomId);
    }
    log.info({ room_id: roomId, reason }, 'room browser stopped');
  }

  /** Stops the room's browser wherever it runs; a node that no longer answers is taken as gone. */
  async function halt(room: RoomRow, reason: string) {
    if (room.browserState !== 'running' || !room.browserNode) return;
    if (room.browserNode === nodeId) return stopLocal(room.id, reason);
    try {
      await busRequest(
        bus,
        nodeTopic(room.browserNode),
        { op: 'stop', room_id: room.id },
        REQUEST_TIMEOUT_MS,
      );
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 503) throw err;
      log.warn({ room_id: room.id, node: room.browserNode }, 'browser node did not answer; marking stopped');
    }
    await markStopped(room.id, reason);
  }

  async function screenshot(room: RoomRow): Promise<Buffer> {
    if (room.browserState !== 'running' || !room.browserNode) throw browserNotRunning();
    if (room.browserNode === nodeId) {
      const session = localSession(room.id);
      if (!session) throw browserNotRunning();
      return session.screenshot();
    }
    const value = await busRequest(
      bus,
      nodeTopic(room.browserNode),
      { op: 'screenshot', room_id: room.id },
      REQUEST_TIMEOUT_MS,
    );
    return Buffer.from(String(value), 'base64');
  }

  /** Writes the room clipboard into the running browser (callers store and announce it). */
  async function setClipboard(room: RoomRow, text: string) {
    if (room.browserState !== 'running' || !room.browserNode) return;
    if (room.browserNode === nodeId) {
      await localSession(room.id)?.setClipboard(text);
      return;
    }
    await busRequest(
      bus,
      nodeTopic(room.browserNode),
      { op: 'clipboard', room_id: room.id, text },
      REQUEST_TIMEOUT_MS,
    );
  }

  /** Sends input to the room's browser; errors are logged, never thrown (input is best-effort). */
  function input(roomId: number, browserNode: string, event: BrowserInput) {
    if (browserNode === nodeId) {
      const session = localSession(roomId);
      session?.input(event).catch((err) => log.debug({ err, room_id: roomId }, 'input not applied'));
      return;
    }
    bus.publish(inputTopic(browserNode), { room_id: roomId, event }).catch((err) => {
      log.warn({ err, room_id: roomId }, 'input not forwarded');
    });
  }

  /**
   * Screen frames of a running room, wherever its browser runs. Local: the runtime's screencast.
   * Remote: the owner's frames over the Bus, kept flowing by a renewed lease.
   */
  async function watchFrames(roomId: number, listener: FrameListener): Promise<() => void> {
    const session = localSession(roomId);
    if (session) return session.onFrame(listener);
    const [room] = await db
      .select({ node: rooms.browserNode })
      .from(rooms)
      .where(and(eq(rooms.id, roomId), eq(rooms.browserState, 'running')));
    if (!room?.node) return () => {};
    const owner = room.node;
    const unsubscribe = await bus.subscribe(screenTopic(roomId), (message) => {
      const jpeg = (message as { jpeg?: string }).jpeg;
      if (typeof jpeg === 'string') listener(Buffer.from(jpeg, 'base64'));
    });
    const renew = () =>
      bus.publish(nodeTopic(owner), {
        reply_to: `noreply.${nodeId}`,
        body: { op: 'watch', room_id: roomId, node_id: nodeId },
      });
    await renew().catch(() => {});
    const timer = setInterval(() => void renew().catch(() => {}), LEASE_RENEW_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      void unsubscribe().catch(() => {});
    };
  }

  /** Another node watches a room running here: publish its frames to the Bus while leased. */
  function grantLease(roomId: number, watcher: string) {
    const session = localSession(roomId);
    if (!session) return;
    let lease = leases.get(roomId);
    if (!lease) {
      const nodes = new Map<string, number>();
      const stopFrames = session.onFrame((jpeg) => {
        const now = Date.now();
        for (const [node, expires] of nodes) if (expires < now) nodes.delete(node);
        if (nodes.size === 0) {
          leases.get(roomId)?.stopFrames();
          leases.delete(roomId);
          return;
        }
        bus.publish(screenTopic(roomId), { jpeg: jpeg.toString('base64') }).catch(() => {});
      });
      lease = { nodes, stopFrames };
      leases.set(roomId, lease);
    }
    lease.nodes.set(watcher, Date.now() + LEASE_MS);
  }

  async function handleRequest(body: unknown): Promise<unknown> {
    const request: NodeRequest = ZNodeRequest.parse(body);
    const session = localSession(request.room_id);
    switch (request.op) {
      case 'stop':
        // A start still opening its context is cancelled the same way.
        if (session || launching.has(request.room_id)) await stopLocal(request.room_id, 'stopped');
        return true;
      case 'screenshot':
        if (!session) throw browserNotRunning();
        return (await session.screenshot()).toString('base64');
      case 'clipboard':
        await session?.setClipboard(request.text);
        return true;
      case 'watch':
        grantLease(request.room_id, request.node_id);
        return true;
    }
  }

  /** Rooms marked running on nodes that are gone (crash, restart) are marked stopped. */
  async function recoverStale() {
    const alive = await bus.presenceMembers(NODES_SET);
    const stale = await db
      .select({ id: rooms.id })
      .from(rooms)
      .where(
        and(
          eq(rooms.browserState, 'running'),
          notInArray(rooms.browserNode, alive.length ? alive : [nodeId]),
        ),
      );
    for (const { id } of stale) await markStopped(id, 'node_gone');
  }

  /**
   * Sessions open here whose room is not running here by the database: the row was deleted (the
   * owner's account went, taking the room with it) or stopped behind this node's back. They are
   * closed; a room that no longer exists is announced as destroyed to sockets still in it.
   */
  async function closeOrphans(candidates: number[], runningHere: Set<number>) {
    for (const id of candidates) {
      if (!opened.has(id) || runningHere.has(id) || launching.has(id) || stopping.has(id)) continue;
      log.warn({ room_id: id }, 'closing a room browser whose room is not running here');
      await stopLocal(id, 'stopped');
      const [row] = await db.select({ id: rooms.id }).from(rooms).where(eq(rooms.id, id));
      if (!row) {
        await publishRoomEvent(deps, id, { type: 'chat_state', state: 'destroyed' });
        await evictFromRoom(deps, id, null, 'destroyed');
      }
    }
  }

  /** Rooms marked running on this node, by the database. */
  const runningHere = async () =>
    db
      .select({ id: rooms.id })
      .from(rooms)
      .where(and(eq(rooms.browserState, 'running'), eq(rooms.browserNode, nodeId)));

  /** Stops local browsers nobody has been connected to for `idleSeconds`, and orphans. */
  async function sweepIdle() {
    const now = Date.now();
    // Only sessions opened before the read can be judged by it.
    const candidates = [...opened];
    const running = await runningHere();
    await closeOrphans(candidates, new Set(running.map((r) => r.id)));
    for (const { id } of running) {
      if (launching.has(id) || stopping.has(id)) continue;
      if (!localSession(id)) {
        await markStopped(id, 'crashed', nodeId);
        continue;
      }
      const viewers = await bus.presenceCount(roomViewersSet(id));
      if (viewers > 0) {
        idleSince.delete(id);
        continue;
      }
      const since = idleSince.get(id) ?? now;
      idleSince.set(id, since);
      if (now - since >= deps.idleSeconds * 1000) await stopLocal(id, 'idle');
    }
  }

  return {
    nodeId,
    launch,
    halt,
    screenshot,
    setClipboard,
    input,
    watchFrames,
    storeClipboard,
    /** Browsers open on this node. */
    activeCount: () => runtime.activeCount(),
    capacity: runtime.capacity,

    /** Server only: joins the cluster, answers other nodes, recovers stale rooms, sweeps idle ones. */
    async attach() {
      const beat = () => bus.presenceAdd(NODES_SET, nodeId, NODE_TTL_MS);
      await beat();
      cleanups.push(await serveBusRequests(bus, nodeTopic(nodeId), handleRequest));
      cleanups.push(
        await bus.subscribe(inputTopic(nodeId), (raw) => {
          const message = raw as { room_id: number; event: BrowserInput };
          localSession(message.room_id)
            ?.input(message.event)
            .catch((err) => log.debug({ err }, 'forwarded input not applied'));
        }),
      );
      await recoverStale();
      const beatTimer = setInterval(() => {
        beat()
          .then(recoverStale)
          .catch((err) => log.warn({ err }, 'browser node heartbeat failed'));
      }, NODE_REFRESH_MS);
      beatTimer.unref();
      const sweepMs = Math.min(30_000, Math.max(1_000, (deps.idleSeconds * 1000) / 4));
      const idleTimer = setInterval(() => {
        sweepIdle().catch((err) => log.warn({ err }, 'idle browser sweep failed'));
      }, sweepMs);
      idleTimer.unref();
      cleanups.push(
        () => clearInterval(beatTimer),
        () => clearInterval(idleTimer),
      );
    },

    /** Stops every local browser (marking its room stopped) and leaves the cluster. */
    async close() {
      for (const cleanup of cleanups.splice(0)) await cleanup();
      const running = await runningHere().catch(() => []);
      const ids = new Set([...running.map((r) => r.id), ...opened]);
      for (const id of ids) await stopLocal(id, 'shutdown').catch(() => {});
      await runtime.close();
      await bus.presenceRemove(NODES_SET, nodeId).catch(() => {});
    },
  };
}
