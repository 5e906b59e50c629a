package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/reminderd/reminderd/internal/store"
)

// The database's health: an integrity check at start-up, storage-full
// errors told apart from other failures, and a rate-limited write probe for
// readiness.

// ErrCorrupt is wrapped by OpenWith's error when the file fails its
// integrity check or is not a database at all.
var ErrCorrupt = errors.New("database is corrupt")

// isFull reports whether err is a write refused for want of space: SQLite's
// SQLITE_FULL (a full disk, or the page limit), ENOSPC itself, or the
// store's ErrFull that the driver maps them to.
func isFull(err error) bool {
	if errors.Is(err, store.ErrFull) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

func isCorrupt(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqlite3.SQLITE_CORRUPT || c == sqlite3.SQLITE_NOTADB
}

// corruptError is the refusal to start on a corrupt file: it names the
// file, the first problem and the way back.
func corruptError(path, problem string) error {
	problem = strings.Join(strings.Fields(problem), " ") // quick_check's lines on one
	return fmt.Errorf("%w: %s failed its integrity check (PRAGMA quick_check): %s. reminderd will not run on it: "+
		"stop every process using it, copy the latest backup over %s, remove %s-wal and %s-shm, and start again "+
		"(README, \"Backup and restore\"); keep the corrupt file aside for analysis",
		ErrCorrupt, path, problem, path, path, path)
}

// quickCheck runs PRAGMA quick_check on c for at most timeout. It returns
// finished=false when the deadline cut it short (the caller goes on and
// says so), and a corruptError when the check found a problem.
func quickCheck(ctx context.Context, c *sql.DB, path string, timeout time.Duration) (finished bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var first string
	err = c.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&first)
	switch {
	case err == nil && first == "ok":
		return true, nil
	case err == nil:
		return true, corruptError(path, first)
	case ctx.Err() != nil:
		return false, nil // interrupted at the deadline
	case isCorrupt(err):
		return true, corruptError(path, err.Error())
	}
	return true, fmt.Errorf("integrity check of %s: %w", path, err)
}

// Integrity reports what the integrity check at open found.
func (d *DB) Integrity() store.Integrity { return d.integrity }

// ProbeEvery bounds how often Writable really probes: readiness checks in
// between get the last result.
const ProbeEvery = time.Second

// probeTimeout bounds one probe (it queues for the single writer).
const probeTimeout = 2 * time.Second

// NoteWriteError records a write's failure if it was for want of space, so
// that readiness fails until a probe writes again. Other errors are ignored.
func (d *DB) NoteWriteError(err error) {
	if err != nil && isFull(err) {
		d.health.NoteFull()
	}
}

// Writable reports whether the database accepts writes: nil, or why not.
// It probes at most once per ProbeEvery and returns the cached result in
// between, so readiness checks cannot amplify writes.
//
// The probe, on the single writer, inserts a row of about three pages into
// consent_grants, which must allocate pages unless free ones are left, and
// rolls it back: no page reaches the disk, yet a database that cannot grow
// (SQLITE_FULL), is read-only or is locked by another process fails it.
// After a write failed for want of space (NoteWriteError), the probe
// deletes its row and commits instead, so that readiness comes back only
// once a real commit reached the disk.
func (d *DB) Writable(ctx context.Context) error {
	return d.health.Check(d.now, ProbeEvery, func(commit bool) error { return d.probe(ctx, commit) }, isFull)
}

// errProbeRollback ends the probe's transaction without a commit.
var errProbeRollback = errors.New("probe: roll back")

func (d *DB) probe(ctx context.Context, commit bool) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := d.withRawTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO consent_grants (appid, openid, template_id, source, received_at)
			VALUES ('', 'reminderd-write-probe', printf('%.*c', 10000, 'x'), 'client', 0)`)
		if err != nil {
			return err
		}
		if !commit {
			return errProbeRollback
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM consent_grants WHERE id = ?`, id)
		return err
	})
	if errors.Is(err, errProbeRollback) {
		return nil
	}
	return storeErr(err, "write probe")
}

// Ping reports whether the read pool answers.
func (d *DB) Ping(ctx context.Context) error { return d.R.PingContext(ctx) }

// Schema returns the schema's version and the latest migration's.
func (d *DB) Schema(ctx context.Context) (version, latest int, err error) {
	version, err = d.SchemaVersion(ctx)
	return version, LatestVersion(), err
}
