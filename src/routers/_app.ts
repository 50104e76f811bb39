import { activityRouter } from './activity/router';
import { adminRouter } from './admin/router';
import { auditRouter } from './audit/router';
import { authRouter } from './auth/router';
import { botRouter } from './bot/router';
import { botsRouter } from './bots/router';
import { chatRouter } from './chat/router';
import { connectionsRouter } from './connections/router';
import { dmRouter } from './dm/router';
import { healthRouter } from './health/router';
import { keysRouter } from './keys/router';
import { linkPreviewRouter } from './link-preview/router';
import { matchRouter } from './match/router';
import { notificationsRouter } from './notifications/router';
import { relaysRouter } from './relays/router';
import { roomsRouter } from './rooms/router';
import { searchRouter } from './search/router';
import { servicesRouter } from './services/router';
import { sessionsRouter } from './sessions/router';
import { sftpRouter } from './sftp/router';
import { sshKeysRouter } from './ssh-keys/router';
import { statisticsRouter, statsRouter } from './stats/router';
import { streamsRouter } from './streams/router';
import { createCallerFactory, router } from './trpc';
import { twoFactorRouter } from './two-factor/router';
import { usersRouter } from './users/router';
import { vodRouter } from './vod/router';
import { voiceRouter } from './voice/router';
import { hooksRouter, webhooksRouter } from './webhooks/router';

export const appRouter = router({
  health: healthRouter,
  users: usersRouter,
  auth: authRouter,
  bot: botRouter,
  bots: botsRouter,
  statistics: statisticsRouter,
  stats: statsRouter,
  admin: adminRouter,
  audit: auditRouter,
  activity: activityRouter,
  sessions: sessionsRouter,
  keys: keysRouter,
  twoFactor: twoFactorRouter,
  notifications: notificationsRouter,
  match: matchRouter,
  services: servicesRouter,
  connections: connectionsRouter,
  sshKeys: sshKeysRouter,
  sftp: sftpRouter,
  rooms: roomsRouter,
  chat: chatRouter,
  linkPreview: linkPreviewRouter,
  voice: voiceRouter,
  search: searchRouter,
  dm: dmRouter,
  webhooks: webhooksRouter,
  hooks: hooksRouter,
  vod: vodRouter,
  relays: relaysRouter,
  streams: streamsRouter,
});

/** What typed TS clients import: `createTRPCClient<AppRouter>`. */
export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
