import { z } from 'zod';
import type { roomMembers, rooms } from '../../db/schema';

// Room vocabulary (API.md §5) shared by the rooms services, routers and the /ws/portal hub.

export type RoomRow = typeof rooms.$inferSelect;
export type RoomMemberRow = typeof roomMembers.$inferSelect;

export const ROOM_KIND = { ROOM: 'room', DIRECT: 'direct' } as const;

export const ROOM_ROLES = ['owner', 'moderator', 'member'] as const;
export type RoomRole = (typeof ROOM_ROLES)[number];

/** Strict hierarchy inside a room: owner > moderator > member. */
export const ROLE_RANK: Record<RoomRole, number> = { member: 0, moderator: 1, owner: 2 };

export const CONTROL_POLICIES = ['owner', 'moderators', 'everyone'] as const;
export type ControlPolicy = (typeof CONTROL_POLICIES)[number];

export const BROWSER_STATES = ['stopped', 'running'] as const;
export type BrowserState = (typeof BROWSER_STATES)[number];

/** Limits of a room's configuration; defaults apply to fields a `POST /chats` leaves out. */
export const ROOM_LIMITS = {
  MIN_WIDTH: 320,
  MAX_WIDTH: 1920,
  MIN_HEIGHT: 240,
  MAX_HEIGHT: 1080,
  MAX_MEMBERS: 100,
  URL_MAX: 2048,
} as const;

export const ROOM_DEFAULTS = {
  start_url: 'https://duckduckgo.com/',
  width: 1280,
  height: 720,
  max_members: 10,
  control: 'everyone' as ControlPolicy,
} as const;

/** Only web pages: `file:`, `chrome:`, `javascript:` and friends never reach the browser. */
export const ZStartUrl = z
  .string()
  .trim()
  .max(ROOM_LIMITS.URL_MAX)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), { message: 'start_url must be an http or https URL' });

/** Every field optional: `POST /chats` fills defaults, `PATCH /chats/{id}/config` merges. */
export const ZRoomConfigPatch = z
  .object({
    start_url: ZStartUrl.optional(),
    width: z.number().int().min(ROOM_LIMITS.MIN_WIDTH).max(ROOM_LIMITS.MAX_WIDTH).optional(),
    height: z.number().int().min(ROOM_LIMITS.MIN_HEIGHT).max(ROOM_LIMITS.MAX_HEIGHT).optional(),
    max_members: z.number().int().min(2).max(ROOM_LIMITS.MAX_MEMBERS).optional(),
    control: z.enum(CONTROL_POLICIES).optional().describe('Who may take control of the browser'),
  })
  .strict();

export type RoomConfigPatch = z.infer<typeof ZRoomConfigPatch>;

export type RoomConfig = {
  start_url: string;
  width: number;
  height: number;
  max_members: number;
  control: ControlPolicy;
};

export const roomConfigOf = (room: RoomRow): RoomConfig => ({
  start_url: room.startUrl,
  width: room.viewportWidth,
  height: room.viewportHeight,
  max_members: room.maxMembers,
  control: room.controlPolicy as ControlPolicy,
});
