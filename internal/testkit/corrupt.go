package testkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reminderd/reminderd/internal/db"
)

// CorruptFile makes a real database of about 2 MB in t's temporary
// directory, closes it and writes garbage over pages in the middle of its
// data (not the schema on page 1), and returns its path.
func CorruptFile(t testing.TB) string {
	t.Helper()
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
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < 1<<20 {
		t.Fatalf("database is %v bytes (%v), want its data in the file (no WAL left)", fi, err)
	}
	garbage := []byte(strings.Repeat("\xde\xad\xbe\xef", 4096/4))
	for page := int64(200); page < 210; page++ {
		if _, err := f.WriteAt(garbage, page*4096); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
