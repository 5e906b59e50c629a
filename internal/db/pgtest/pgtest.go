// Package pgtest gives tests a real PostgreSQL server: no mocks of the
// database.
//
// Server returns the URL of one server per test binary, started lazily on
// first use: the server named by REMINDERD_TEST_POSTGRES (a postgres:// URL
// of a server the user runs) or else a throwaway one this package makes
// with the machine's PostgreSQL binaries (initdb into a temporary
// directory, postgres listening only on a unix socket there, fsync off).
// Database creates a fresh database on it for one test and drops it when
// the test ends. A package whose tests use it stops the server at the end
// with
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// (the server also dies with the test binary if that exits another way).
//
// When no server can be had, the tests that ask for one skip, loudly,
// unless REMINDERD_REQUIRE_POSTGRES=1 (CI sets it), which fails them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment variables this package reads.
const (
	// EnvURL names a server to use instead of starting one.
	EnvURL = "REMINDERD_TEST_POSTGRES"
	// EnvRequire, set to 1, turns "no server" from a skip into a failure.
	EnvRequire = "REMINDERD_REQUIRE_POSTGRES"
)

var (
	once      sync.Once
	serverURL string
	serverErr error
	started   *server // the server this package started, if it did
	stopOnce  sync.Once
)

// Server returns the URL of the test binary's PostgreSQL server (its
// "postgres" database, as a superuser), starting it on the first call. It
// skips t, or fails it under REMINDERD_REQUIRE_POSTGRES=1, when there is
// none.
func Server(t testing.TB) string {
	t.Helper()
	once.Do(func() { serverURL, serverErr = obtain() })
	if serverErr != nil {
		unavailable(t, serverErr)
	}
	return serverURL
}

// obtain returns the URL of the user's server, checked by a connection, or
// starts one.
func obtain() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		if err := ping(u); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvURL, redact(u), err)
		}
		return u, nil
	}
	s, err := start()
	if err != nil {
		return "", err
	}
	started = s
	return s.url, nil
}

// unavailable skips t (or fails it when PostgreSQL is required), saying why
// and how to get a server.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("PostgreSQL is required (%s=1) but there is no server: %v", EnvRequire, err)
		return // for a testing.TB whose Fatalf returns
	}
	t.Skipf("!!! SKIPPED, no PostgreSQL server: %v (set %s=postgres://… or install PostgreSQL's server binaries, e.g. apt-get install postgresql)",
		err, EnvURL)
}

// Database creates a database of its own for t on the server, dropped when
// t ends, and returns its URL.
func Database(t testing.TB) string {
	t.Helper()
	base := Server(t)
	name := databaseName(t.Name())
	if err := admin(base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE: a connection the test left open must not keep the
		// database (and the test's failure would say more than this one).
		if err := admin(base, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Stop stops the server this package started, if it did, and removes its
// directory. It is safe to call more than once; after it, Server fails.
func Stop() {
	stopOnce.Do(func() {
		once.Do(func() { serverErr = fmt.Errorf("pgtest: stopped") })
		if started != nil {
			if err := started.stop(); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			}
		}
	})
}

// Main runs the tests, stops the server and exits with the tests' code:
// the body of a TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// admin runs one statement on a connection of its own to the server's URL.
func admin(serverURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}

// ping connects to u once.
func ping(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

var notIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName makes a database name from a test's name: recognisable in
// the server's list, and unique with a random suffix (several test
// binaries may share the user's server). PostgreSQL keeps 63 bytes.
func databaseName(test string) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	s := strings.Trim(notIdent.ReplaceAllString(strings.ToLower(test), "_"), "_")
	const room = 63 - len("t_") - 1 - 8
	if len(s) > room {
		s = s[:room]
	}
	return "t_" + s + "_" + hex.EncodeToString(b[:])
}

// withDatabase returns the URL u with its database replaced by name.
func withDatabase(u, name string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
		return "", fmt.Errorf("pgtest: %s is not a postgres:// URL", redact(u))
	}
	q := p.Query()
	q.Del("dbname") // libpq lets the query name the database too
	p.RawQuery = q.Encode()
	p.Path = "/" + name
	p.RawPath = ""
	return p.String(), nil
}

// redact hides a URL's password for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(an unparsable URL)"
	}
	return p.Redacted()
}
