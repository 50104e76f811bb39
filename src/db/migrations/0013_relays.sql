ALTER TABLE "services" ADD COLUMN "config" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "host_key_fingerprint" text;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "host_key_endpoint" text;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "healthy" boolean;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "checked_at" timestamp with time zone;