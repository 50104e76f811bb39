CREATE TABLE "stream_relays" (
	"id" serial PRIMARY KEY NOT NULL,
	"stream_id" integer NOT NULL,
	"platform" text NOT NULL,
	"name" text NOT NULL,
	"rtmp_url" text NOT NULL,
	"stream_key" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"status" text DEFAULT 'idle' NOT NULL,
	"last_error" text,
	"status_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vod_storage" (
	"user_id" integer PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"port" integer NOT NULL,
	"username" text NOT NULL,
	"auth_method" text NOT NULL,
	"password" text,
	"private_key" text,
	"passphrase" text,
	"remote_path" text NOT NULL,
	"host_key_fingerprint" text,
	"host_key_endpoint" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "vod_storage_auth_method" CHECK ("vod_storage"."auth_method" in ('password', 'key')),
	CONSTRAINT "vod_storage_port" CHECK ("vod_storage"."port" between 1 and 65535)
);
--> statement-breakpoint
ALTER TABLE "stream_relays" ADD CONSTRAINT "stream_relays_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vod_storage" ADD CONSTRAINT "vod_storage_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "stream_relays_stream_idx" ON "stream_relays" USING btree ("stream_id");