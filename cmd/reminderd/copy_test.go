package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/store"
)

// withPassword is u with a password in it (the test server trusts its
// socket and ignores it), so that a test can see it is never printed.
func withPassword(t *testing.T, u, password string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	name := "reminderd"
	if p.User != nil {
		name = p.User.Username()
	}
	p.User = url.UserPassword(name, password)
	return p.String()
}

// copySource makes a small SQLite deployment: a reminder, a ledger row,
// a session.
func copySource(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reminderd.db")
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	now := time.UnixMilli(1_800_000_000_000)
	if _, err := d.CreateReminder(ctx, store.NewReminder{ID: "r1", OpenID: "oA", TemplateID: "tplA", FireAt: now.Add(time.Hour),
		Timezone: "Asia/Shanghai", Data: `{"thing1":"x"}`, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RecordAccept(ctx, "", "oA", "tplA", false, store.SourceClient, now); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateSession(ctx, store.Session{TokenHash: strings.Repeat("a", 64), OpenID: "oA", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCopy runs reminderd copy with args and returns its exit code and
// what it printed (stdout, stderr and the error main would print).
func runCopy(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"copy"}, args...), env(nil), &stdout, &stderr)
	if err != nil {
		stderr.WriteString("reminderd: " + err.Error() + "\n")
	}
	return exitCode(err), stdout.String(), stderr.String()
}

// reminderd copy through run: exit 0 only after a copy whose counts were
// compared, 1 for a refused or failed copy, 2 for a mistake on the command
// line; the password in the URL is never printed.
func TestCopyCommandExitCodes(t *testing.T) {
	const password = "PW-s3cret-never-printed"
	src := copySource(t)
	target := withPassword(t, pgtest.Database(t), password)

	for _, args := range [][]string{
		{},
		{"--from", src},
		{"--to", target},
		{"--from", src, "--to", "mysql://u@h/db"},
		{"--from", src, "--to", target, "extra"},
		{"--bogus"},
	} {
		code, out, errOut := runCopy(t, args...)
		if code != 2 {
			t.Errorf("copy %q: exit %d, want 2 (stdout %q, stderr %q)", args, code, out, errOut)
		}
		if strings.Contains(out+errOut, password) {
			t.Errorf("copy %q printed the password: %s%s", args, out, errOut)
		}
	}

	missing := filepath.Join(t.TempDir(), "missing.db")
	code, out, errOut := runCopy(t, "--from", missing, "--to", target)
	if code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("copy from a missing file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("copy created the missing source")
	}

	code, out, errOut = runCopy(t, "--from", src, "--to", target)
	if code != 0 {
		t.Fatalf("copy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, want := range []string{"reminders  1  rows", "consents  1  rows", "sessions  1  rows", "counts equal on both sides", "REMINDERD_DB"} {
		if !strings.Contains(strings.Join(strings.Fields(out), "  "), strings.Join(strings.Fields(want), "  ")) {
			t.Errorf("copy's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, password) {
		t.Errorf("copy printed the password:\n%s%s", out, errOut)
	}

	// Again: the target holds rows now, and is left as it is.
	code, out, errOut = runCopy(t, "--from", src, "--to", target)
	if code != 1 || !strings.Contains(errOut, "reminders (1 rows)") || !strings.Contains(errOut, "changed nothing") {
		t.Errorf("copy onto a non-empty target: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, password) {
		t.Errorf("the refusal printed the password:\n%s%s", out, errOut)
	}
	c, err := pgx.Connect(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int64
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM reminders").Scan(&n); err != nil || n != 1 {
		t.Errorf("the target after the refusal: %d reminders, %v", n, err)
	}

	// A server that does not answer: refused, the password not printed.
	code, out, errOut = runCopy(t, "--from", src, "--to", "postgres://u:"+password+"@127.0.0.1:1/x?connect_timeout=5")
	if code != 1 || strings.Contains(out+errOut, password) {
		t.Errorf("copy to no server: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// The command is listed, and its help says to stop the service first.
func TestCopyHelp(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, env(nil), &stdout, &stdout); err != nil || !strings.Contains(stdout.String(), "copy ") {
		t.Fatalf("-h: %v\n%s", err, stdout.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"copy", "--help"}, env(nil), &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--from file", "--to url", "service stopped", "REMINDERD_DB"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("copy --help lacks %q:\n%s", want, stdout.String())
		}
	}
}
