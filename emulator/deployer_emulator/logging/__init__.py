"""Cloud Logging v2: ``entries.list`` over the entries the emulator's containers wrote (jobs' tasks, services).

Entries are REST ``LogEntry`` JSON (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry) with the
resource and labels Google gives Cloud Run's logs; the filter is a subset of the Logging query language
(https://cloud.google.com/logging/docs/view/logging-query-language): comparisons joined by AND or spaces.
"""
