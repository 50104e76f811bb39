// Every table group of the drizzle schema; drizzle-kit reads this file to generate migrations.
export * from './activity';
export * from './audit';
export * from './auth';
export * from './automod';
export * from './bot-activity';
export * from './bots';
export * from './chat';
export * from './dm';
export * from './notifications';
export * from './remote-access';
export * from './rooms';
export * from './settings';
export * from './streams';
export * from './users';
export * from './vod';
export * from './web-proxy';
export * from './webhooks';
