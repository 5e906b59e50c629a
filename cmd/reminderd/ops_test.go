package main

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reminderd/reminderd/internal/db"
)

func TestBackupIsConsistentWhileWriting(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "live.db")
	ctx := context.Background()
	d, err := db.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	insert := func(i int) error {
		return d.Write.InsertReminder(ctx, dbsqlc.InsertReminderParams{ID: fmt.Sprintf("r%05d", i), Openid: "o", TemplateID: "t",
			FireAt: int64(i), Timezone: "UTC", Data: "{}", Now: 1})
	}
	for i := range 500 {
		if err := insert(i); err != nil {
			t.Fatal(err)
		}
	}
	// A writer keeps going while the backup runs.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 500; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := insert(i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	dest := filepath.Join(dir, "copy.db")
	var out bytes.Buffer
	err = run(ctx, []string{"backup", "--db", src, dest}, env(nil), &out, io.Discard)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "backed up") {
		t.Fatalf("backup said %q", out.String())
	}
	c, err := db.Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.IntegrityCheck(ctx); err != nil || v != "ok" {
		t.Fatalf("integrity of the copy: %q %v", v, err)
	}
	var n, maxFire int
	if err := c.R.QueryRow(`SELECT count(*), max(fire_at) FROM reminders`).Scan(&n, &maxFire); err != nil {
		t.Fatal(err)
	}
	if n < 500 || n != maxFire+1 {
		t.Fatalf("copy holds %d reminders up to %d: not a consistent prefix", n, maxFire)
	}
	// Never overwrite.
	if err := run(ctx, []string{"backup", "--db", src, dest}, env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("backup over an existing file: %v", err)
	}
	if err := run(ctx, []string{"backup", "--db", filepath.Join(dir, "missing.db"), filepath.Join(dir, "x.db")}, env(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("backup of a missing database succeeded")
	}
	if err := run(ctx, []string{"backup", "--db", src}, env(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("backup without a destination succeeded")
	}
}

// TestStaticBuild builds the binary as the README says (CGO_ENABLED=0) and
// checks that it is static, carries the IANA zone database and runs.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "reminderd")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=test-1.2.3", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary needs a dynamic loader: not static")
		}
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	tz := false
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "time/tzdata.") {
			tz = true
			break
		}
	}
	if !tz {
		t.Fatal("time/tzdata is not embedded")
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "reminderd test-1.2.3 ") {
		t.Fatalf("version: %v %q", err, out)
	}
}
