-- Every change that can make a cached credential lookup stale NOTIFYs `portal_auth` with its
-- subject (u:<user id> or b:<bot id>); each node LISTENs and drops that subject's entries
-- (src/services/auth/credential-cache.ts). NOTIFY is delivered at commit and identical payloads
-- of one transaction are folded into one.
CREATE FUNCTION portal_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'users' THEN
    PERFORM pg_notify('portal_auth', 'u:' || OLD.id);
  ELSIF TG_TABLE_NAME = 'bots' THEN
    PERFORM pg_notify('portal_auth', 'b:' || OLD.id);
  ELSE
    PERFORM pg_notify('portal_auth', 'u:' || OLD.user_id);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER users_auth_changed AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION portal_auth_changed();
--> statement-breakpoint
CREATE TRIGGER sessions_auth_changed AFTER UPDATE OR DELETE ON sessions
  FOR EACH ROW EXECUTE FUNCTION portal_auth_changed();
--> statement-breakpoint
-- last_used_at is written on use and changes nothing a lookup returns that matters for access.
CREATE TRIGGER api_keys_auth_changed AFTER UPDATE ON api_keys
  FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
    OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
    OR OLD.scopes IS DISTINCT FROM NEW.scopes
    OR OLD.key_hash IS DISTINCT FROM NEW.key_hash
    OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION portal_auth_changed();
--> statement-breakpoint
CREATE TRIGGER api_keys_auth_deleted AFTER DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION portal_auth_changed();
--> statement-breakpoint
CREATE TRIGGER bots_auth_changed AFTER UPDATE OR DELETE ON bots
  FOR EACH ROW EXECUTE FUNCTION portal_auth_changed();
