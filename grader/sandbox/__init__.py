"""Running student code out of process: the harness, the job protocol, and the process and Docker backends."""
