import { expect } from 'vitest';
import { api } from './identity';
import { type Message, openPortal, type PortalClient } from './portal-client';
import { ok, type Person } from './rooms';

// /ws/chat as tests use it: the portal test client on the chat path, plus joining a channel and
// collecting what arrived before a `pong` (to prove that something did NOT arrive).

export const chatUrl = (server: { url: string }, token?: string) =>
  `${server.url.replace('http', 'ws')}/ws/chat${token ? `?token=${encodeURIComponent(token)}` : ''}`;

/** An authenticated /ws/chat socket (after `ready`). */
export async function openChat(server: { url: string }, token: string) {
  const client = await openPortal(chatUrl(server, token));
  await client.nextOf('ready');
  return client;
}

/** Joins `channel` and returns the four answers of `join`. */
export async function joinChannel(client: PortalClient, channel: string) {
  client.send({ type: 'join', channel });
  const info = await client.nextOf('channel_info');
  const history = await client.nextOf('history');
  const pinned = await client.nextOf('pinned_messages');
  const users = await client.nextOf('users');
  return { info, history, pinned, users };
}

/** Every message received until the answer to a fresh `ping`. */
export async function drain(client: PortalClient): Promise<Message[]> {
  client.send({ type: 'ping' });
  const seen: Message[] = [];
  for (;;) {
    const message = await client.next();
    if (message.type === 'pong') return seen;
    seen.push(message);
  }
}

/** The next `error` frame, asserting its exact shape. */
export async function expectError(client: PortalClient, message: string | RegExp) {
  const frame = await client.nextOf('error');
  expect(Object.keys(frame).sort()).toEqual(['message', 'type']);
  if (typeof message === 'string') expect(frame.message).toBe(message);
  else expect(frame.message).toMatch(message);
  return frame;
}

/** A public channel made by an Admin (returns its id and name). */
export async function publicChannel(
  server: { url: string },
  admin: Person,
  name: string,
  body: Record<string, unknown> = {},
) {
  const made = await ok(
    api(server, 'POST', '/api/chat/channels', { token: admin.token, body: { name, ...body } }),
  );
  return { id: made.id as number, name: made.name as string };
}

/** `n` new people (from `person`), each with a /ws/chat socket joined to `channel`. */
export async function joinedPeople(
  server: { url: string },
  channel: string,
  n: number,
  person: () => Promise<Person>,
) {
  const people: (Person & { ws: PortalClient })[] = [];
  for (let i = 0; i < n; i++) {
    const p = await person();
    const ws = await openChat(server, p.token);
    await joinChannel(ws, channel);
    people.push({ ...p, ws });
  }
  return people;
}
