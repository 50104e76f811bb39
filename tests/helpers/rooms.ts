import { expect } from 'vitest';
import { createSession } from '../../src/services/auth/sessions';
import { api, makeUser } from './identity';
import { openPortal, portalUrl } from './portal-client';
import type { TestServer } from './server';

// Rooms ("chats") as their tests set them up: people with session tokens, a room owned by an
// Admin and joined through an invite, a /ws/portal socket in the room, and the assertions on
// answers in the contract's shape.

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are loose JSON, checked by the assertions
export type Json = Record<string, any>;

export type Person = { id: number; username: string; token: string };

type Res = Awaited<ReturnType<typeof api>>;

/** The status, and the body for the next assertions. */
export async function ok(res: Promise<Res>, status = 200) {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  return r.body as Json;
}

/** A refusal with the contract's body: `{error, status, correlation_id}` (plus structured fields). */
export async function refused(res: Promise<Res>, status: number, error: string | RegExp) {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.status).toBe(status);
  expect(r.body.correlation_id).toMatch(UUID);
  if (typeof error === 'string') expect(r.body.error).toBe(error);
  else expect(r.body.error).toMatch(error);
  return r;
}

/** Helpers bound to one test server (read lazily: servers start in beforeAll). */
export function roomKit(server: () => TestServer) {
  /** A user with a session token (level 2 = Admin, who has chat slots). */
  async function person(level = 0): Promise<Person> {
    const made = await makeUser(server(), { level });
    const { token } = await createSession(server().deps.database.db, server().deps.secretKey, {
      user: made.user,
      method: 'password',
    });
    return { id: made.user.id, username: made.username, token };
  }

  /** A room owned by a new Admin, joined by `members` new users through one invite. */
  async function room(members = 1, opts: { name?: string; config?: Json } = {}) {
    const owner = await person(2);
    const body = { name: opts.name ?? 'test room', ...(opts.config && { config: opts.config }) };
    const chat = await ok(api(server(), 'POST', '/chats', { token: owner.token, body }));
    const invite = await ok(
      api(server(), 'POST', `/chats/${chat.id}/invites`, { token: owner.token, body: {} }),
    );
    const joined: Person[] = [];
    for (let i = 0; i < members; i++) joined.push(await join(invite.code as string));
    return {
      id: chat.id as number,
      name: chat.name as string,
      owner,
      members: joined,
      code: invite.code as string,
    };
  }

  /** A new user joining with an invite code. */
  async function join(code: string): Promise<Person> {
    const p = await person();
    await ok(api(server(), 'POST', `/chats/join/${code}`, { token: p.token }));
    return p;
  }

  /** A /ws/portal socket joined to the room (events only unless `screen`). */
  async function listen(token: string, roomId: number, screen = false) {
    const client = await openPortal(portalUrl(server(), token));
    await client.nextOf('ready');
    client.send({ type: 'join_room', room_id: roomId, screen });
    expect((await client.nextOf('room_joined')).room_id).toBe(roomId);
    return client;
  }

  return { person, room, join, listen };
}
