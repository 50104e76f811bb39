// Every table group of the drizzle schema; drizzle-kit reads this file to generate migrations.
export * from './settings';
