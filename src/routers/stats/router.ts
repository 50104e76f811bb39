import { z } from 'zod';
import {
  getAppStatistics,
  getBotStatistics,
  getChatStatistics,
  getLiveStats,
  getUserStatistics,
} from '../../services/stats/public';
import { authedProcedure, publicProcedure, router } from '../trpc';
import { ZAppStatistics, ZBotStatistics, ZChatStatistics, ZLiveStats, ZUserStatistics } from './schemas';

const tags = ['Statistics'];
const statistic = publicProcedure.input(z.void());

/** GET /statistics/* (API.md §3): PUBLIC tier, an X-API-Key optional (validated when sent). */
export const statisticsRouter = router({
  users: statistic
    .meta({
      openapi: { method: 'GET', path: '/statistics/users', tags, protect: false, summary: 'User statistics' },
    })
    .output(ZUserStatistics)
    .query(({ ctx }) => getUserStatistics(ctx.deps)),

  bots: statistic
    .meta({
      openapi: {
        method: 'GET',
        path: '/statistics/bots',
        tags,
        protect: false,
        summary: 'Bot statistics by verification status',
      },
    })
    .output(ZBotStatistics)
    .query(({ ctx }) => getBotStatistics(ctx.deps)),

  chats: statistic
    .meta({
      openapi: {
        method: 'GET',
        path: '/statistics/chats',
        tags,
        protect: false,
        summary: 'Chat and active browser statistics',
      },
    })
    .output(ZChatStatistics)
    .query(({ ctx }) => getChatStatistics(ctx.deps)),

  app: statistic
    .meta({
      openapi: {
        method: 'GET',
        path: '/statistics/app',
        tags,
        protect: false,
        summary: 'Application statistics',
      },
    })
    .output(ZAppStatistics)
    .query(({ ctx }) => getAppStatistics(ctx.deps)),
});

/** GET /api/stats (seed 002): live figures for signed-in users, read from Bus presence sets. */
export const statsRouter = router({
  live: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/api/stats', tags, summary: 'Live streams and online users' } })
    .input(z.void())
    .output(ZLiveStats)
    .query(({ ctx }) => getLiveStats(ctx.deps)),
});
