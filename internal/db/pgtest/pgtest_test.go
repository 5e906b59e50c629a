package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	if os.Getenv("PGTEST_ORPHAN") == "1" {
		orphan()
		return
	}
	Main(m)
}

func connect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func databaseOf(t *testing.T, u string) string {
	t.Helper()
	var name string
	if err := connect(t, u).QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// Each test's database is its own, and gone when the test ends.
func TestDatabasesAreFreshAndDropped(t *testing.T) {
	ctx := context.Background()
	Server(t) // skips here, not in the subtests, without PostgreSQL
	var names []string
	t.Run("first", func(t *testing.T) {
		u := Database(t)
		names = append(names, databaseOf(t, u))
		if _, err := connect(t, u).Exec(ctx, "CREATE TABLE mine (x int)"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("second", func(t *testing.T) {
		u := Database(t)
		names = append(names, databaseOf(t, u))
		var n int
		if err := connect(t, u).QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'mine'").Scan(&n); err != nil || n != 0 {
			t.Fatalf("the second database has %d tables named mine (%v)", n, err)
		}
	})
	if len(names) != 2 || names[0] == names[1] || !strings.HasPrefix(names[0], "t_testdatabasesarefreshanddropped_first_") {
		t.Fatalf("databases %q", names)
	}
	var left int
	if err := connect(t, Server(t)).QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", names).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d of the tests' databases are left (%v)", left, err)
	}
}

// The server this package starts listens on no TCP port, does not fsync,
// and runs as nobody when the tests run as root.
func TestStartedServer(t *testing.T) {
	u := Server(t)
	if started == nil {
		t.Skipf("the server is %s's", EnvURL)
	}
	c := connect(t, u)
	for setting, want := range map[string]string{"listen_addresses": "", "fsync": "off", "server_encoding": "UTF8", "lc_collate": "C"} {
		var got string
		if err := c.QueryRow(context.Background(), "SELECT current_setting($1)", setting).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", setting, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(started.dir, "data", "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	owner := fi.Sys().(*syscall.Stat_t).Uid
	want := uint32(os.Geteuid())
	if want == 0 {
		as, err := asWhom()
		if err != nil {
			t.Fatal(err)
		}
		want = as.uid
	}
	if owner != want || owner == 0 {
		t.Fatalf("the cluster belongs to uid %d, want %d (and never root)", owner, want)
	}
}

// stop stops the server and removes its directory.
func TestStopRemovesTheServer(t *testing.T) {
	Server(t) // skips without PostgreSQL
	if started == nil {
		t.Skipf("the server is %s's", EnvURL)
	}
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(s.url); err != nil {
		t.Fatal(err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	default:
		t.Fatal("stop returned before the postmaster exited")
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Fatalf("%s is still there (%v)", s.dir, err)
	}
	if err := ping(s.url); err == nil {
		t.Fatal("the stopped server still answers")
	}
}

// orphan is a test binary that starts a server, prints the postmaster's pid
// and waits to be killed without stopping it.
func orphan() {
	s, err := start()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", s.cmd.Process.Pid)
	fmt.Println("dir", s.dir)
	select {}
}

// A test binary killed with -9 takes its server with it (the parent-death
// signal), so no postgres outlives its tests.
func TestServerDiesWithTheTestBinary(t *testing.T) {
	Server(t)
	if started == nil {
		t.Skipf("the server is %s's", EnvURL)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGTEST_ORPHAN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var pid int
	var dir string
	if _, err := fmt.Fscanf(out, "pid %d\ndir %s\n", &pid, &dir); err != nil {
		t.Fatalf("the orphan said: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("postmaster %d is not running: %v", pid, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the orphan ended by itself (%v), not by kill -9", cmd.ProcessState)
	}
	// The postmaster is not our child: poll its pid, with a deadline.
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGQUIT)
			t.Fatalf("postmaster %d outlived its test binary by 30 s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder is a testing.TB that records how it was stopped.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

// Without a server, tests skip, loudly, unless PostgreSQL is required.
func TestUnavailableSkipsUnlessRequired(t *testing.T) {
	cause := fmt.Errorf("no binaries")
	t.Setenv(EnvRequire, "")
	r := &recorder{}
	unavailable(r, cause)
	if r.failed != "" || !strings.Contains(r.skipped, "SKIPPED") || !strings.Contains(r.skipped, "no binaries") || !strings.Contains(r.skipped, EnvURL) {
		t.Fatalf("not required: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv(EnvRequire, "1")
	r = &recorder{}
	unavailable(r, cause)
	if r.skipped != "" || !strings.Contains(r.failed, "no binaries") {
		t.Fatalf("required: skipped %q, failed %q", r.skipped, r.failed)
	}
}

func TestHighestVersionAndDpkgListing(t *testing.T) {
	dirs := []string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/13/bin"}
	if got := highest(dirs); got != "/usr/lib/postgresql/15/bin" {
		t.Errorf("highest = %s", got)
	}
	if got := highest(nil); got != "" {
		t.Errorf("highest of none = %q", got)
	}
	listing := "/.\n/usr/lib/postgresql/15/bin\n/usr/lib/postgresql/15/bin/initdb\n/usr/lib/postgresql/15/bin/postgres\n/usr/share/doc/initdb\n"
	if got := initdbDirs(listing); !slices.Equal(got, []string{"/usr/lib/postgresql/15/bin"}) {
		t.Errorf("initdbDirs = %q", got)
	}
}

func TestDatabaseNameFitsAndIsUnique(t *testing.T) {
	long := "Test" + strings.Repeat("Very/Long Name-", 10)
	a, b := databaseName(long), databaseName(long)
	if a == b || len(a) > 63 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		t.Fatalf("names %q and %q", a, b)
	}
	if n := databaseName("TestX/sub"); !strings.HasPrefix(n, "t_testx_sub_") || len(n) != len("t_testx_sub_")+8 {
		t.Fatalf("name %q", n)
	}
}

func TestWithDatabase(t *testing.T) {
	got, err := withDatabase("postgres://u:secret@h:5433/postgres?sslmode=disable&dbname=x", "t_1")
	if err != nil || got != "postgres://u:secret@h:5433/t_1?sslmode=disable" {
		t.Fatalf("withDatabase = %q, %v", got, err)
	}
	got, err = withDatabase("postgres://reminderd@/postgres?host=%2Ftmp%2Fd&port=5432", "t_2")
	if err != nil || got != "postgres://reminderd@/t_2?host=%2Ftmp%2Fd&port=5432" {
		t.Fatalf("withDatabase = %q, %v", got, err)
	}
	if _, err := withDatabase("host=/tmp dbname=x", "t_3"); err == nil {
		t.Fatal("a keyword/value string was taken for a URL")
	}
}

func TestSearchable(t *testing.T) {
	private := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(private, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if searchable(open) || searchable(private) {
		t.Fatal("a directory under a private one is searchable")
	}
	if !searchable("/") {
		t.Fatal("/ is not searchable")
	}
}
