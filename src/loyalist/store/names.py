"""The names of the store's own tables (the ingest log, the quarantine, the registries,
the worklist's and the council's records) and of the columns every contract table
carries: the same on every engine. A leaf module (it imports nothing), so the engine
adapter and the store's modules all read them from here.
"""

from __future__ import annotations

META = "_loyalist_meta"
INGESTS = "_loyalist_ingests"
REJECTS = "_loyalist_rejects"
ATTRIBUTES = "_loyalist_attributes"
DERIVED = "_loyalist_derived"
MODELS = "_loyalist_models"
WORKLIST = "_loyalist_worklist"
ASSIGNMENTS = "_loyalist_assignments"
#: the customer council's records (append-only): members joining and leaving, meetings,
#: attendance, points raised, commitments made and closed
COUNCIL_MEMBERS = "_loyalist_council_members"
COUNCIL_MEETINGS = "_loyalist_council_meetings"
COUNCIL_ATTENDANCE = "_loyalist_council_attendance"
COUNCIL_POINTS = "_loyalist_council_points"
COUNCIL_COMMITMENTS = "_loyalist_council_commitments"
#: the ingest log's columns written by an ingest (later ones: undo, filled later)
INGEST_COLUMNS = ("(id, table_name, source, format, started_at, finished_at, rows_read, "
                  "inserted, updated, unchanged, rejected, options, rejects_file)")
#: columns every contract table carries besides the contract's own
META_COLUMNS = (("_key", "VARCHAR"), ("_ingest_id", "BIGINT"), ("_line", "BIGINT"))
