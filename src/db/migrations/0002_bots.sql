CREATE TABLE "bot_commands" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"bot_id" integer NOT NULL,
	"user_id" integer,
	"platform_user_id" text,
	"command" text NOT NULL,
	"success" boolean NOT NULL,
	"latency_ms" double precision,
	"executed_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bot_commands" ADD CONSTRAINT "bot_commands_bot_id_bots_id_fk" FOREIGN KEY ("bot_id") REFERENCES "public"."bots"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bot_commands" ADD CONSTRAINT "bot_commands_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bot_commands_executed_idx" ON "bot_commands" USING btree ("executed_at");--> statement-breakpoint
CREATE INDEX "bot_commands_bot_executed_idx" ON "bot_commands" USING btree ("bot_id","executed_at");--> statement-breakpoint
CREATE INDEX "bot_commands_user_executed_idx" ON "bot_commands" USING btree ("user_id","executed_at");