package db

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
)

// Checkpoints run beside the writer: the rows written reach the database
// file (out of the WAL) without the writer checkpointing (its own threshold
// is far above what this test writes) and without anyone asking.
func TestWALIsCheckpointedInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.db")
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	data := fmt.Sprintf(`{"thing1":%q}`, strings.Repeat("会议", 300)) // ~1.8 KB a row
	err = d.WithTx(context.Background(), func(q *dbsqlc.Queries) error {
		for i := range 2000 {
			if err := q.InsertReminder(context.Background(), dbsqlc.InsertReminderParams{ID: fmt.Sprintf("r%05d", i), Openid: "o",
				TemplateID: "t", FireAt: 9, Timezone: "UTC", Data: data, Now: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// About 1,000 pages: far below the writer's own threshold.
	want := before + 2000*1800
	timeout := time.After(20 * time.Second)
	for size() < want {
		select {
		case <-d.ckpt.ran: // a checkpoint ended: look again
		case <-timeout:
			t.Fatalf("database file %d bytes after 20 s, want ≥ %d: the WAL was not checkpointed", size(), want)
		}
	}
}
