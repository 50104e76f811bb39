CREATE TABLE "stream_bans" (
	"stream_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"reason" text,
	"banned_by" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stream_bans_stream_id_user_id_pk" PRIMARY KEY("stream_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "stream_follows" (
	"stream_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stream_follows_stream_id_user_id_pk" PRIMARY KEY("stream_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "stream_offline_holds" (
	"stream_id" integer NOT NULL,
	"holder" text NOT NULL,
	"session_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stream_offline_holds_stream_id_holder_pk" PRIMARY KEY("stream_id","holder")
);
--> statement-breakpoint
CREATE TABLE "stream_rtmp_tokens" (
	"id" serial PRIMARY KEY NOT NULL,
	"stream_id" integer NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"released_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stream_thumbnails" (
	"stream_id" integer PRIMARY KEY NOT NULL,
	"content_type" text NOT NULL,
	"data" "bytea" NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "streams" (
	"id" serial PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"title" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"is_public" boolean DEFAULT true NOT NULL,
	"rtmp_enabled" boolean DEFAULT false NOT NULL,
	"stream_key" text NOT NULL,
	"stream_key_hash" text NOT NULL,
	"playback_key" text NOT NULL,
	"is_live" integer DEFAULT 0 NOT NULL,
	"live_path" text,
	"live_session_id" text,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"chat_channel_id" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "streams_is_live" CHECK ("streams"."is_live" in (0, 1, 2)),
	CONSTRAINT "streams_title_len" CHECK (char_length("streams"."title") between 1 and 100)
);
--> statement-breakpoint
ALTER TABLE "stream_bans" ADD CONSTRAINT "stream_bans_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stream_bans" ADD CONSTRAINT "stream_bans_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stream_bans" ADD CONSTRAINT "stream_bans_banned_by_users_id_fk" FOREIGN KEY ("banned_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stream_follows" ADD CONSTRAINT "stream_follows_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stream_follows" ADD CONSTRAINT "stream_follows_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stream_offline_holds" ADD CONSTRAINT "stream_offline_holds_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stream_rtmp_tokens" ADD CONSTRAINT "stream_rtmp_tokens_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stream_thumbnails" ADD CONSTRAINT "stream_thumbnails_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "streams" ADD CONSTRAINT "streams_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "streams" ADD CONSTRAINT "streams_chat_channel_id_channels_id_fk" FOREIGN KEY ("chat_channel_id") REFERENCES "public"."channels"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "stream_bans_user_idx" ON "stream_bans" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "stream_follows_user_idx" ON "stream_follows" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "stream_rtmp_tokens_hash_idx" ON "stream_rtmp_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "stream_rtmp_tokens_stream_idx" ON "stream_rtmp_tokens" USING btree ("stream_id");--> statement-breakpoint
CREATE INDEX "streams_user_idx" ON "streams" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "streams_key_hash_idx" ON "streams" USING btree ("stream_key_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "streams_playback_key_idx" ON "streams" USING btree ("playback_key");--> statement-breakpoint
CREATE UNIQUE INDEX "streams_chat_channel_idx" ON "streams" USING btree ("chat_channel_id");--> statement-breakpoint
CREATE INDEX "streams_live_idx" ON "streams" USING btree ("is_live") WHERE "streams"."is_live" <> 0;