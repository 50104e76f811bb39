-- A stream's chat channel goes with the stream however the stream row goes: DELETE
-- /api/streams/{id} deletes the channel itself (and tells open sockets), but a deleted account
-- takes its streams along by ON DELETE CASCADE, which would leave their channels behind.
CREATE FUNCTION streams_drop_chat_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.chat_channel_id IS NOT NULL THEN
    DELETE FROM channels WHERE id = OLD.chat_channel_id;
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER streams_drop_chat_channel AFTER DELETE ON streams
  FOR EACH ROW EXECUTE FUNCTION streams_drop_chat_channel();
