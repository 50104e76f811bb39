ALTER TABLE "chat_messages" ADD COLUMN "upload_key" text;--> statement-breakpoint
ALTER TABLE "chat_poll_votes" ADD COLUMN "anonymous" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "chat_reactions" ADD COLUMN "anonymous" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "dm_messages" ADD COLUMN "upload_key" text;--> statement-breakpoint
ALTER TABLE "dm_reactions" ADD COLUMN "anonymous" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "chat_messages_upload_idx" ON "chat_messages" USING btree ("upload_key") WHERE "chat_messages"."upload_key" is not null;--> statement-breakpoint
CREATE INDEX "dm_messages_upload_idx" ON "dm_messages" USING btree ("upload_key") WHERE "dm_messages"."upload_key" is not null;