package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
)

func TestSyncSettingReachesTheWriter(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "2"}, // FULL by default
		{map[string]string{"REMINDERD_SYNC": "normal"}, "1"},
		{map[string]string{"REMINDERD_SYNC": "full"}, "2"},
	} {
		tc.env = mergeEnv(tc.env, "REMINDERD_DB", filepath.Join(t.TempDir(), "s.db"))
		c, err := parseConfig("t", nil, env(tc.env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		d, err := db.OpenWith(ctx, c.DB, c.dbOptions())
		if err != nil {
			t.Fatal(err)
		}
		p, err := d.Pragmas(ctx)
		d.Close()
		if err != nil || p["synchronous"] != tc.want {
			t.Errorf("env %v: synchronous %q (%v), want %q", tc.env, p["synchronous"], err, tc.want)
		}
	}
	_, err := parseConfig("t", []string{"--sync", "off"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "REMINDERD_SYNC") || !strings.Contains(err.Error(), "power cut") {
		t.Fatalf("--sync off: %v", err)
	}
}

func mergeEnv(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// TestServeRefusesACorruptDatabase starts the real serve path on a file with
// garbage written over pages of its data: it must refuse, naming the file.
func TestServeRefusesACorruptDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "corrupt.db")
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.W.ExecContext(ctx, `CREATE TABLE filler (id INTEGER PRIMARY KEY, v BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.W.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
		INSERT INTO filler SELECT i, randomblob(1000) FROM n`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("garbage!", 4096)), 200*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Without the check it would serve (until this deadline) and answer 201.
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = run(sctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", path}, env(nil), io.Discard, io.Discard)
	if !errors.Is(err, db.ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("serve on a corrupt file: %v", err)
	}
}
