ALTER TABLE "user_connections" ADD COLUMN "host_key_fingerprint" text;--> statement-breakpoint
ALTER TABLE "user_connections" ADD COLUMN "host_key_endpoint" text;