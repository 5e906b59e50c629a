package db

import (
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints run beside the writer, not in it. SQLite's automatic
// checkpoint runs in the connection whose commit takes the WAL past its
// threshold: the single writer would copy the WAL into the database file and
// wait for its fsyncs while every other write queued behind it (an fsync on
// this VM's disk takes from under a millisecond to tens of them). A
// goroutine runs passive checkpoints on a connection of its own instead: a
// passive checkpoint never blocks the writer or the readers, which go on
// with the WAL meanwhile. The writer keeps a far threshold as a backstop, in
// case the checkpointer falls behind.
const (
	checkpointEvery     = 100 * time.Millisecond
	autoCheckpointPages = 10000 // 40 MB of WAL
)

// checkpointer runs passive checkpoints every checkpointEvery until stopped.
type checkpointer struct {
	c        *sql.DB
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	frames   atomic.Int64 // WAL frames at the last checkpoint
	failures atomic.Int64
	// ran wakes a test waiting for a checkpoint (capacity 1; the send
	// never blocks, and nothing reads it in production).
	ran chan struct{}
}

func startCheckpointer(path string) (*checkpointer, error) {
	// synchronous NORMAL whatever the writer's: this connection never
	// commits, and a checkpoint syncs the WAL before it copies the frames
	// and the database after under both NORMAL and FULL.
	c, err := sql.Open("sqlite", fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=synchronous(NORMAL)", path, BusyTimeoutMS))
	if err != nil {
		return nil, err
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	c.SetConnMaxLifetime(0)
	c.SetConnMaxIdleTime(0)
	if err := c.Ping(); err != nil {
		c.Close()
		return nil, err
	}
	cp := &checkpointer{c: c, stop: make(chan struct{}), done: make(chan struct{}), ran: make(chan struct{}, 1)}
	go cp.run()
	return cp, nil
}

func (cp *checkpointer) run() {
	defer close(cp.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-cp.stop:
			return
		case <-t.C:
		}
		cp.checkpoint()
		select {
		case cp.ran <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// checkpoint runs one passive checkpoint. With nothing new in the WAL it
// returns at once. Failures are counted for /metrics: while they last, the
// WAL grows until the writer's own threshold makes it checkpoint again.
func (cp *checkpointer) checkpoint() {
	var busy, frames, copied int64
	if err := cp.c.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		cp.failures.Add(1)
		return
	}
	cp.frames.Store(frames)
}

// close stops the checkpointer and closes its connection.
func (cp *checkpointer) close() error {
	cp.once.Do(func() { close(cp.stop) })
	<-cp.done
	return cp.c.Close()
}

// CheckpointState reports the WAL's frames at the last background checkpoint
// and how many of those checkpoints failed. Near autoCheckpointPages frames,
// the writer checkpoints itself again.
func (d *DB) CheckpointState() (walFrames, failures int64) {
	if d.ckpt == nil {
		return 0, 0
	}
	return d.ckpt.frames.Load(), d.ckpt.failures.Load()
}
