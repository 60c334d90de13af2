"""Evidence reports: what a person keeps or attaches to a case after a stream or a file was analyzed.

`data` holds the frozen values and the one function that turns score points, alerts and crops into a
`Report`; `evidence` picks which face crops are worth keeping; `html` renders a self-contained page;
`collect` builds a report while `analyze --report` runs. The server (stream_server/report.py) reads the
same inputs back from SQLite, so a report looks the same whichever way it was made.
"""
