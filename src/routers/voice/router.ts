import { z } from 'zod';
import { iceServersFor } from '../../services/voice/ice-servers';
import { authedProcedure, router } from '../trpc';

// Voice (API.md §8): signalling runs over /ws/chat; REST only hands out ICE servers.

const ZIceServers = z.object({
  ice_servers: z.array(
    z.object({
      urls: z.string().describe('stun:, turn: or turns: URL'),
      username: z.string().optional().describe('TURN only: "<expiry unix seconds>:<user id>"'),
      credential: z.string().optional().describe('TURN only: base64 HMAC-SHA1 of username'),
    }),
  ),
  ttl: z.number().int().optional().describe('Seconds the TURN credentials stay valid'),
});

export const voiceRouter = router({
  iceServers: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/voice/ice-servers',
        tags: ['Voice'],
        summary: 'STUN/TURN servers for WebRTC voice',
      },
    })
    .input(z.void())
    .output(ZIceServers)
    .query(({ ctx }) =>
      iceServersFor({
        userId: ctx.actor.userId,
        turnUrls: ctx.deps.env.TURN_URLS,
        turnSecret: ctx.deps.env.TURN_SECRET,
      }),
    ),
});
