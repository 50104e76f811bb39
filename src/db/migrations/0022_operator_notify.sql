-- Operator state that every node keeps in memory (runtime settings, the active TLS certificate)
-- NOTIFYs `portal_operator` with the table's name at commit; each node LISTENs and reloads
-- (src/services/settings/live-settings.ts, src/services/certificates/active.ts). A writer that
-- forgets to tell the cluster cannot exist: the trigger does it, whoever writes.
CREATE FUNCTION portal_operator_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('portal_operator', TG_TABLE_NAME);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER app_settings_operator_changed AFTER INSERT OR UPDATE OR DELETE ON app_settings
  FOR EACH STATEMENT EXECUTE FUNCTION portal_operator_changed();
--> statement-breakpoint
CREATE TRIGGER tls_certificates_operator_changed AFTER INSERT OR UPDATE OR DELETE ON tls_certificates
  FOR EACH STATEMENT EXECUTE FUNCTION portal_operator_changed();
