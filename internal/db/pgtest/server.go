package pgtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// superuser is the role initdb creates; with -A trust it needs no password.
const superuser = "reminderd"

// port only names the socket file (.s.PGSQL.5432): the server listens on
// no TCP port, so it cannot collide with another server on the machine.
const port = "5432"

// readyLine is what the postmaster logs once it accepts connections (the
// messages are in English: lc_messages is C).
const readyLine = "database system is ready to accept connections"

// startTimeout bounds initdb and the server's start on a slow machine.
const startTimeout = 2 * time.Minute

// server is a PostgreSQL server this package started: a postgres process,
// a child of the test binary, with its data directory and socket in dir.
type server struct {
	dir    string
	url    string
	exited chan struct{} // closed once the postmaster has exited
	log    *tail

	mu  sync.Mutex
	cmd *exec.Cmd // the postmaster, once started
}

// start finds the server binaries, makes a cluster in a new temporary
// directory and starts a postgres on it.
func start() (*server, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	as, err := asWhom()
	if err != nil {
		return nil, err
	}
	dir, err := tempDir(as != nil)
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, exited: make(chan struct{}), log: &tail{max: 40}}
	if err := s.run(bin, as); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// tempDir makes the cluster's directory. The socket's path must fit a
// sockaddr_un (108 bytes), and a server run as another user must be able
// to reach it: a long or private TMPDIR gives way to /tmp.
func tempDir(otherUser bool) (string, error) {
	parent := os.TempDir()
	if len(parent) > 60 || (otherUser && !searchable(parent)) {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "reminderd-pg-")
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return dir, nil
}

// searchable reports whether every user may pass through dir and its
// parents.
func searchable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// run does initdb and starts the postmaster, from one goroutine locked to
// its OS thread until the postmaster exits: the parent-death signal that
// takes the server down with the test binary (however it ends, kill -9 or
// a timeout's panic included) is tied to the thread that started it.
func (s *server) run(bin string, as *runAs) error {
	if as != nil {
		if err := os.Chown(s.dir, int(as.uid), int(as.gid)); err != nil {
			return fmt.Errorf("pgtest: give %s to %s: %w", s.dir, as.name, err)
		}
	}
	res := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := s.initdb(bin, as); err != nil {
			res <- err
			return
		}
		if err := s.postmaster(bin, as, ready); err != nil {
			res <- err
		}
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case err := <-res:
		return err
	case <-s.exited:
		return fmt.Errorf("pgtest: postgres exited while starting:\n%s", s.log)
	case <-timer.C:
		s.stop()
		return fmt.Errorf("pgtest: postgres not ready after %v:\n%s", startTimeout, s.log)
	case <-ready:
	}
	s.url = (&url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/postgres",
		RawQuery: url.Values{"host": {s.dir}, "port": {port}, "sslmode": {"disable"}}.Encode()}).String()
	if err := ping(s.url); err != nil {
		s.stop()
		return fmt.Errorf("pgtest: postgres says it is ready, but: %w\n%s", err, s.log)
	}
	return nil
}

// initdb makes the cluster: trust authentication (the socket is in a
// directory only its owner can enter), UTF8 with the C locale (the same
// collation on every machine), no fsync (a test's data need not survive a
// power cut).
func (s *server) initdb(bin string, as *runAs) error {
	cmd := s.command(bin, "initdb", as, "-D", filepath.Join(s.dir, "data"), "-A", "trust", "-U", superuser,
		"-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = as.attr(syscall.SIGKILL)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", cmd, err, out)
	}
	return nil
}

// postmaster starts postgres on the cluster, listening only on the socket
// in s.dir, closes ready when it logs that it accepts connections and
// returns once it has exited. The rest of its log is kept for messages.
func (s *server) postmaster(bin string, as *runAs, ready chan<- struct{}) error {
	cmd := s.command(bin, "postgres", as, "-D", filepath.Join(s.dir, "data"), "-k", s.dir, "-p", port,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "lc_messages=C")
	// SIGQUIT is the immediate shutdown: nothing of a test server is worth
	// a checkpoint once the tests are gone.
	cmd.SysProcAttr = as.attr(syscall.SIGQUIT)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: %s: %w", cmd, err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	defer close(s.exited)
	// Read the log to its end (when the postmaster and its backends have
	// exited): a full pipe would block the server.
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		s.log.add(line)
		if ready != nil && strings.Contains(line, readyLine) {
			close(ready)
			ready = nil
		}
	}
	io.Copy(io.Discard, stderr)
	cmd.Wait()
	return nil
}

// command prepares one of the server binaries, run as as (nil: as this
// process) in s.dir, with an environment free of the PG* variables that
// would override its arguments.
func (s *server) command(bin, name string, as *runAs, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = s.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	return cmd
}

// stop shuts the postmaster down (SIGINT: pg_ctl's fast mode) and removes
// the cluster.
func (s *server) stop() error {
	var err error
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(syscall.SIGINT)
		timer := time.NewTimer(time.Minute)
		select {
		case <-s.exited:
		case <-timer.C:
			cmd.Process.Kill()
			<-s.exited
			err = fmt.Errorf("postgres did not stop in a minute: killed:\n%s", s.log)
		}
		timer.Stop()
	}
	if e := os.RemoveAll(s.dir); e != nil {
		err = errors.Join(err, e)
	}
	return err
}

// findBinDir returns the directory of PostgreSQL's server binaries (initdb
// and postgres), which Debian's package keeps off PATH: pg_config's, else
// the highest version under /usr/lib/postgresql, else one that dpkg lists.
func findBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); hasServer(d) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if d := highest(slices.DeleteFunc(dirs, func(d string) bool { return !hasServer(d) })); d != "" {
		return d, nil
	}
	if d := highest(slices.DeleteFunc(dpkgBinDirs(), func(d string) bool { return !hasServer(d) })); d != "" {
		return d, nil
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, postgres) in pg_config --bindir, /usr/lib/postgresql/*/bin or dpkg -L postgresql-NN")
}

// hasServer reports whether dir holds initdb and postgres.
func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// dpkgBinDirs returns the directories of initdb in the installed
// postgresql-NN packages.
func dpkgBinDirs() []string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", "postgresql-[0-9]*").Output()
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(out), "\n") {
		pkg, status, _ := strings.Cut(line, " ")
		if status != "installed" {
			continue
		}
		files, err := exec.Command("dpkg", "-L", pkg).Output()
		if err == nil {
			dirs = append(dirs, initdbDirs(string(files))...)
		}
	}
	return dirs
}

// initdbDirs returns the directory of each bin/initdb in a dpkg -L listing.
func initdbDirs(listing string) []string {
	var dirs []string
	for _, f := range strings.Split(listing, "\n") {
		if f = strings.TrimSpace(f); strings.HasSuffix(f, "/bin/initdb") {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	return dirs
}

// highest returns the directory of the highest version among dirs, each
// named for its version like /usr/lib/postgresql/15/bin ("" if none).
func highest(dirs []string) string {
	best, bestV := "", []int(nil)
	for _, d := range dirs {
		if v := version(d); best == "" || slices.Compare(v, bestV) > 0 {
			best, bestV = d, v
		}
	}
	return best
}

// version returns the numbers of the last component of path that is a
// version (15, 9.6), or nil.
func version(path string) []int {
	parts := strings.Split(filepath.ToSlash(path), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		var v []int
		for _, f := range strings.Split(parts[i], ".") {
			n, err := strconv.Atoi(f)
			if err != nil {
				v = nil
				break
			}
			v = append(v, n)
		}
		if v != nil {
			return v
		}
	}
	return nil
}

// tail keeps the last lines of a log.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
