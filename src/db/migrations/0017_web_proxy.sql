CREATE TABLE "web_proxy_cookie_jars" (
	"connection_id" text PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"jar" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "web_proxy_cookie_jars" ADD CONSTRAINT "web_proxy_cookie_jars_connection_id_user_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."user_connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "web_proxy_cookie_jars" ADD CONSTRAINT "web_proxy_cookie_jars_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;