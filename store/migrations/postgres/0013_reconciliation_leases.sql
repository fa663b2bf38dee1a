-- A running reconciliation run is held by one process under a lease that
-- it renews while it works (docs/reconciliation.md, "Runs"). A run whose
-- holder stopped renewing (the process died) is failed by the next run of
-- its provider and day, in the transaction that starts that run. Runs an
-- earlier version left running have no lease: they count as expired.
ALTER TABLE reconciliation_runs ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE reconciliation_runs ADD COLUMN lease_until TIMESTAMPTZ;

-- At most one run of a provider and day is running at a time; of several
-- left running before, all but the newest are failed.
UPDATE reconciliation_runs SET status = 'failed', failure = 'abandoned: another run of the day was running',
	finished_at = started_at
	WHERE status = 'running' AND id NOT IN
		(SELECT MAX(id) FROM reconciliation_runs WHERE status = 'running' GROUP BY provider, date);
CREATE UNIQUE INDEX reconciliation_runs_running ON reconciliation_runs (provider, date) WHERE status = 'running';
