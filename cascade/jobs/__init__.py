"""The job engine: kinds of jobs and their handlers (`registry`), the
worker that leases and runs them (`worker`), and the journal that makes a
multi-step operation recoverable after a crash (`journal`). The rows are
`cascade.persistence.jobs`."""
