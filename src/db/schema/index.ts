// Every table group of the drizzle schema; drizzle-kit reads this file to generate migrations.
export * from './audit';
export * from './auth';
export * from './bot-activity';
export * from './bots';
export * from './certificates';
export * from './chat';
export * from './dm';
export * from './notifications';
export * from './operations';
export * from './remote-access';
export * from './rooms';
export * from './settings';
export * from './users';
export * from './webhooks';
