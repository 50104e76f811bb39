import { bigserial, boolean, index, integer, pgTable, real, text } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { services } from './remote-access';

/**
 * Data retention policies (seed 002 "Data Retention"): one row per kind an operator changed;
 * kinds without a row use their built-in default (services/retention/policies.ts).
 */
export const retentionPolicies = pgTable('retention_policies', {
  kind: text('kind').primaryKey(),
  enabled: boolean('enabled').notNull(),
  days: integer('days').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  updatedBy: text('updated_by').notNull(),
});

/**
 * Cluster-wide leases of scheduled jobs (retention, certificate renewal): a node runs the job
 * only while it holds the row's lease, renewed as it goes; a node that dies lets it lapse.
 */
export const jobLeases = pgTable('job_leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  leasedUntil: ts('leased_until').notNull(),
});

/** Every probe of the service monitor: the "service logs" of data retention. */
export const serviceChecks = pgTable(
  'service_checks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    serviceId: integer('service_id')
      .notNull()
      .references(() => services.id, { onDelete: 'cascade' }),
    healthy: boolean('healthy').notNull(),
    latencyMs: real('latency_ms'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('service_checks_service_idx').on(t.serviceId, t.id),
    index('service_checks_created_idx').on(t.createdAt),
  ],
);
