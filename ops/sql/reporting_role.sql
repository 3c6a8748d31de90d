-- Read-only reporting role (raportoija) for the outcome statistics.
--
-- Grants SELECT on the published statistics tables only: outcomes_monthly, outcomes_state,
-- outcomes_tracking (documented in docs/statistics-tables.md). Nothing personal: NOT the event
-- store (timeline_log, and its views timeline_events and timeline_event_index), NOT the obligations tables,
-- NOT the outcomes projection's private working tables (outcomes_work_seekers,
-- outcomes_work_contributions, outcomes_quarantine).
--
-- Run as the owner of the timeline tables, in the timeline database, after the outcomes
-- projection has created its tables (the service's first catch-up or `timeline stats`):
--   psql "$DATABASE_URL" -f ops/sql/reporting_role.sql
-- The schema is the connection's search_path (public by default). Give the role a login and a
-- password separately, never in this file:  ALTER ROLE timeline_reporter LOGIN PASSWORD '...';
-- Run it again after a rebuild of the outcomes projection: a rebuild drops and recreates the
-- tables, and their grants with them. Roles are cluster-wide; the grants are per database.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'timeline_reporter') THEN
    CREATE ROLE timeline_reporter NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM timeline_reporter;
GRANT USAGE ON SCHEMA public TO timeline_reporter;
GRANT SELECT ON public.outcomes_monthly, public.outcomes_state, public.outcomes_tracking
  TO timeline_reporter;
