import { z } from 'zod';
import { CONTROL_POLICIES, ROOM_ROLES, ZRoomConfigPatch } from '../../services/rooms/types';
import { ZInteger as integer, ZDisplayName, ZId, ZIsoDate } from '../fields';

// Inputs and outputs of the rooms router (API.md §5); outputs mirror services/rooms/views.ts.

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZRoomConfig = z.object({
  start_url: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  max_members: z.number().int(),
  control: z.enum(CONTROL_POLICIES),
});

export const ZRoom = z.object({
  id: z.number().int(),
  name: z.string(),
  kind: z.enum(['room', 'direct']).describe('`direct`: a 1-on-1 chat made by matchmaking'),
  owner_id: z.number().int().nullable(),
  role: z.enum(ROOM_ROLES).nullable().describe("The caller's role in this room"),
  config: ZRoomConfig,
  state: z.enum(['stopped', 'running']).describe('State of the shared browser'),
  started_at: ZIsoDate.nullable(),
  member_count: z.number().int(),
  created_at: ZIsoDate,
});

/** Every room list (chats, members, moderation, invites, keys) pages with limit/offset and says the total. */
export const ZPageInfo = {
  total: z.number().int().describe('Items in the whole list'),
  limit: z.number().int(),
  offset: z.number().int(),
};

export const ZRoomList = z.object({ chats: z.array(ZRoom), ...ZPageInfo });

export const ZMember = z.object({
  user_id: z.number().int(),
  username: z.string(),
  role: z.enum(ROOM_ROLES),
  muted: z.boolean().describe('Cannot send now (with or without an end)'),
  muted_until: ZIsoDate.nullable().describe('When the mute ends; null when not muted or muted until unmuted'),
  timed_out: z.boolean().describe('Cannot send or control now'),
  timeout_until: ZIsoDate.nullable(),
  joined_at: ZIsoDate,
});

export const ZMemberList = z.object({ members: z.array(ZMember), ...ZPageInfo });

export const ZInvite = z.object({
  code: z.string(),
  expires_at: ZIsoDate.nullable(),
  max_uses: z.number().int().nullable(),
  uses: z.number().int(),
  created_at: ZIsoDate,
});

export const ZInviteList = z.object({ invites: z.array(ZInvite).describe('Newest first'), ...ZPageInfo });

export const ZClipboard = z.object({ text: z.string() });

export const ZRoleResult = z.object({ user_id: z.number().int(), role: z.enum(['moderator', 'member']) });

// ── inputs ───────────────────────────────────────────────────────────────────────────────

export const ZRoomId = z.object({ id: ZId });

/** A room id and a page (ZRoomPage) is the input of every room list. */
export const ZPage = z.object({
  limit: integer().min(1).max(100).default(50),
  offset: integer().min(0).max(100_000).default(0),
});

export const ZRoomPage = ZRoomId.extend(ZPage.shape);

export const ZCreateRoomInput = z.object({
  name: ZDisplayName,
  config: ZRoomConfigPatch.optional(),
});

export const ZConfigInput = ZRoomConfigPatch.extend({ id: ZId });

export const ZSetRoleInput = z.object({
  id: ZId,
  user_id: ZId,
  role: z.enum(['moderator', 'member']),
});

export const ZCreateInviteInput = z.object({
  id: ZId,
  expires_in_minutes: z
    .number()
    .int()
    .min(1)
    .max(30 * 24 * 60)
    .optional()
    .describe('Default 1440 (24 h); at most 30 days'),
  max_uses: z.number().int().min(1).max(10_000).optional().describe('Omit for unlimited uses'),
});

export const ZInviteCode = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/);

export const ZInviteRef = z.object({ id: ZId, code: ZInviteCode });

export const ZJoinInput = z.object({ code: ZInviteCode });

export const CLIPBOARD_MAX = 100_000;

export const ZClipboardInput = z.object({ id: ZId, text: z.string().max(CLIPBOARD_MAX) });
