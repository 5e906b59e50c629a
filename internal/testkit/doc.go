// Package testkit is the test harness the packages share: what more than
// one package's tests used to write for itself. Each helper cleans up after
// the test that asked for it.
//
//   - T0 and Clock: the fixed instant the tests start at, and a clock
//     standing there.
//   - Store, StoreWith: a fresh store, SQLite or (REMINDERD_TEST_STORE=postgres)
//     PostgreSQL; Reopen: a second store on the same database; SQLiteOnly:
//     skip on the PostgreSQL run; SQLite, SQLiteWith, SQLiteAt: always SQLite;
//     CorruptFile: a database file with garbage over its data.
//   - WeChat: the fake WeChat (wechattest) serving the demo templates.
//   - SyncBuffer: a log that goroutines write and the test reads.
//
// Waiting for background work is not here: the engine's tests wait on its
// test signals (internal/scheduler/testsignal.go), in-memory concurrency
// tests run in a testing/synctest bubble.
package testkit
