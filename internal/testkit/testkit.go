package testkit

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// T0 is the instant the tests' clocks start at.
var T0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// Clock returns a clock standing at T0, moved only by its Advance.
func Clock() *wechattest.Clock { return wechattest.NewClock(T0) }

// Store opens a new database in t's temporary directory and closes it when
// t ends.
func Store(t testing.TB) *db.DB {
	t.Helper()
	return StoreWith(t, db.Options{})
}

// StoreWith is Store opened with opt.
func StoreWith(t testing.TB, opt db.Options) *db.DB {
	t.Helper()
	return StoreAt(t, filepath.Join(t.TempDir(), "reminderd.db"), opt)
}

// StoreAt opens the database at path with opt (creating it if need be) and
// closes it when t ends: for a test that opens the same file again.
func StoreAt(t testing.TB, path string, opt db.Options) *db.DB {
	t.Helper()
	d, err := db.OpenWith(context.Background(), path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// WeChat starts a fake WeChat holding the demo templates and closes it
// when t ends.
func WeChat(t testing.TB, opt wechattest.Options) *wechattest.Server {
	t.Helper()
	fake := wechattest.New(opt)
	t.Cleanup(fake.Close)
	for _, tm := range wechattest.DemoTemplates() {
		fake.AddTemplate(tm)
	}
	return fake
}

// SyncBuffer is a buffer that goroutines may write while the test reads it
// (a logger's output).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
