// Every table group of the drizzle schema; drizzle-kit reads this file to generate migrations.
export * from './audit';
export * from './auth';
export * from './bots';
export * from './settings';
export * from './users';
