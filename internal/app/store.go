package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// IsPostgres reports whether the database setting (REMINDERD_DB) names a
// PostgreSQL database: a URL whose scheme is postgres or postgresql. Any
// other value is a SQLite file path.
func IsPostgres(setting string) bool {
	scheme, _, ok := strings.Cut(setting, "://")
	if !ok {
		return false
	}
	scheme = strings.ToLower(scheme)
	return scheme == "postgres" || scheme == "postgresql"
}

// CheckPostgresURL refuses a PostgreSQL URL that does not parse, naming the
// setting and never quoting the URL (its password). It is the
// configuration's check, before anything connects.
func CheckPostgresURL(setting, u string) error {
	if _, err := pgxpool.ParseConfig(u); err != nil {
		// pgx's message may quote the URL, password included.
		return fmt.Errorf("%s is not a valid PostgreSQL URL (%s): want postgres://user:password@host:port/database?sslmode=…", setting, RedactURL(u))
	}
	return nil
}

// RedactURL is a database URL fit for a log line or an error: its password
// (in the user part or a password= parameter) replaced by "xxxxx". A URL
// that does not parse is not quoted at all.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "a URL that does not parse"
	}
	if p.User != nil {
		if _, ok := p.User.Password(); ok {
			p.User = url.UserPassword(p.User.Username(), "xxxxx")
		}
	}
	if q := p.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		p.RawQuery = q.Encode()
	}
	return p.Redacted()
}

// passwords are the secrets a database URL carries, to scrub from errors.
func passwords(u string) []string {
	p, err := url.Parse(u)
	if err != nil {
		return nil
	}
	var out []string
	if p.User != nil {
		if pw, ok := p.User.Password(); ok && pw != "" {
			out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
	}
	if pw := p.Query().Get("password"); pw != "" {
		out = append(out, pw, url.QueryEscape(pw))
	}
	return out
}

// scrubbed is an error whose text has the database password replaced; the
// error it wraps stays reachable for errors.Is.
type scrubbed struct {
	err     error
	secrets []string
}

func (s scrubbed) Error() string {
	msg := s.err.Error()
	for _, pw := range s.secrets {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	return msg
}

func (s scrubbed) Unwrap() error { return s.err }

// ScrubError is err with the password of the database URL u replaced in its
// text (the error itself stays reachable with errors.Is and errors.As).
func ScrubError(err error, u string) error {
	if err == nil {
		return nil
	}
	if pws := passwords(u); len(pws) > 0 {
		return scrubbed{err, pws}
	}
	return err
}

// OpenStore opens the store cfg.DB names: PostgreSQL for a postgres:// or
// postgresql:// URL (its migrations applied under the driver's advisory
// lock), else the SQLite file with cfg.DBOptions. The *db.DB is the SQLite
// store itself (nil on PostgreSQL), for what only SQLite has.
func OpenStore(ctx context.Context, cfg Config, now func() time.Time, log *slog.Logger) (store.Store, *db.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !IsPostgres(cfg.DB) {
		d, err := db.OpenWith(ctx, cfg.DB, cfg.DBOptions)
		if err != nil {
			return nil, nil, err
		}
		if d.Integrity() == store.IntegrityUnfinished {
			log.Warn("integrity check not finished within REMINDERD_INTEGRITY_TIMEOUT; starting without its verdict (run `sqlite3 FILE 'PRAGMA quick_check'` on a copy, or raise the timeout)",
				"db", cfg.DB, "timeout", cfg.DBOptions.IntegrityTimeout.String())
		}
		if cfg.DBOptions.Sync == db.SyncNormal {
			log.Warn("REMINDERD_SYNC=normal: commits are not synced to disk, so writes answered 2xx may be lost in a power cut")
		}
		return d, d, nil
	}
	if err := CheckPostgresURL("REMINDERD_DB", cfg.DB); err != nil {
		return nil, nil, err
	}
	if cfg.DBOptions.Sync == db.SyncNormal {
		log.Warn("REMINDERD_SYNC applies to SQLite only and is ignored on PostgreSQL, whose durability is the server's (synchronous_commit)")
	}
	opt := cfg.Postgres
	if opt.Now == nil {
		opt.Now = now
	}
	if opt.MaxConns == 0 && !strings.Contains(cfg.DB, "pool_max_conns=") {
		// A connection for each send in flight (its outcome is recorded as
		// it ends) and some for the API and the periodic jobs; the URL's
		// pool_max_conns says otherwise.
		opt.MaxConns = int32(cmp.Or(max(cfg.Engine.Concurrency, 0), 8) + 8)
	}
	d, err := postgres.Open(ctx, cfg.DB, opt)
	if err != nil {
		return nil, nil, ScrubError(err, cfg.DB)
	}
	log.Info("database: PostgreSQL", "db", RedactURL(cfg.DB))
	return d, nil, nil
}
