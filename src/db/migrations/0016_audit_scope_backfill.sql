-- Entries written before audit_log had channel_id/room_id: read the scope from where they kept it
-- (channel actions target the channel, message deletions name it in details, room.* name the room).
UPDATE "audit_log" SET "channel_id" = "target_id"::integer
  WHERE "channel_id" IS NULL AND "target_type" = 'channel' AND "target_id" ~ '^[0-9]{1,9}$';
--> statement-breakpoint
UPDATE "audit_log" SET "channel_id" = ("details"->>'channel_id')::integer
  WHERE "channel_id" IS NULL AND "details"->>'channel_id' ~ '^[0-9]{1,9}$';
--> statement-breakpoint
UPDATE "audit_log" SET "room_id" = ("details"->>'room_id')::integer
  WHERE "room_id" IS NULL AND "action" LIKE 'room.%' AND "details"->>'room_id' ~ '^[0-9]{1,9}$';
