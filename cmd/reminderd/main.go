// Command reminderd is the reminder engine: one binary, one SQLite file
// (or a PostgreSQL database shared by several processes).
//
// main only calls run; tests call run with ":0" and a temporary database.
// Command-line conventions: "reminderd help", "-h" and "--help" list the
// commands on stdout and exit 0; "reminderd help CMD" and "reminderd CMD
// --help" show that command's own flags; a mistake on the command line (an
// unknown command or flag, a missing argument) exits 2, any other failure 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	_ "time/tzdata" // IANA zones embedded: recurrences must not depend on the host
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	var ue *usageError
	if err != nil && !(errors.As(err, &ue) && ue.reported) {
		fmt.Fprintln(os.Stderr, "reminderd:", err)
	}
	os.Exit(exitCode(err))
}

// usageError is a mistake on the command line: it exits 2. reported means
// its message was already written to stderr (the flag package writes its own).
type usageError struct {
	err      error
	reported bool
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...)}
}

// exitCode is the process status for run's result.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// command is one of reminderd's commands. flags, when set, returns the
// command's flag set (writing its usage to w) for its help.
type command struct {
	name, args, summary, about string
	run                        func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
	flags                      func(getenv func(string) string, w io.Writer) *flag.FlagSet
}

func commands() []command {
	return []command{
		{name: "serve", args: "[flags]", summary: "run the service (the default command)",
			about: "Serves the mini-program, admin and message-push APIs and sends the reminders that fall due.\n" +
				"Without --wechat-appid it runs in sandbox mode against a built-in fake WeChat on loopback and\n" +
				"prints an admin token and a login code. Every flag is also an environment variable (the flag wins).",
			run: serve, flags: func(getenv func(string) string, w io.Writer) *flag.FlagSet {
				_, fs := configFlags("serve", getenv, w)
				return fs
			}},
		{name: "demo", summary: "run the whole story against the built-in fake WeChat, then exit",
			about: "Starts a sandbox reminderd on loopback with a temporary database, logs a user in, accepts consent,\n" +
				"creates reminders a few seconds ahead, prints every outcome and exits 0 only if each ended as it should.\n" +
				"It takes no flags and no arguments. With REMINDERD_DB a postgres:// URL it runs on that PostgreSQL\n" +
				"database instead, which must hold no reminders yet.",
			run: func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
				if len(args) > 0 {
					return usageErrorf("demo takes no flags and no arguments, got %q", args[0])
				}
				return demo(ctx, args, getenv, stdout, stderr)
			}},
		{name: "migrate", args: "[--db FILE|URL]", summary: "apply the database migrations and exit",
			about: "Opens the database (a SQLite file or a postgres:// URL), applies the migrations embedded in this binary\n" +
				"and prints its schema version. On PostgreSQL they run under an advisory lock: processes migrating at once\n" +
				"apply each migration once.",
			run: migrate, flags: func(getenv func(string) string, w io.Writer) *flag.FlagSet {
				fs, _ := dbFlags("migrate", getenv, w)
				return fs
			}},
		{name: "backup", args: "[--db FILE] PATH", summary: "write a consistent copy of the live database to PATH",
			about: "Writes a copy of the database to PATH (SQLite VACUUM INTO, one read transaction) while the\n" +
				"service keeps running. PATH must not exist: a backup never overwrites a file.",
			run: backup, flags: func(getenv func(string) string, w io.Writer) *flag.FlagSet {
				fs, _ := dbFlags("backup", getenv, w)
				return fs
			}},
		{name: "copy", args: "--from FILE --to URL", summary: "move a SQLite deployment onto an empty PostgreSQL (service stopped)",
			about: copyAbout, run: copyCmd, flags: func(_ func(string) string, w io.Writer) *flag.FlagSet {
				fs, _, _ := copyFlags(w)
				return fs
			}},
		{name: "bench", args: "[flags]", summary: "measure sends, lateness, the API, the due scan and memory on this machine",
			about: "Runs every measurement against a fake WeChat and temporary databases, prints a summary and\n" +
				"one JSON line (docs/performance.md explains each figure). The defaults take several minutes.",
			run: func(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
				return benchCmd(ctx, args, stdout, stderr)
			}, flags: func(_ func(string) string, w io.Writer) *flag.FlagSet { return benchFlags(w, nil) }},
		{name: "version", summary: "print the version and build information (also: reminderd --version)",
			about: "Prints the version, the VCS revision the binary was built from when known, the Go version and platform.",
			run: func(_ context.Context, args []string, _ func(string) string, stdout, _ io.Writer) error {
				if len(args) > 0 {
					return usageErrorf("version takes no arguments")
				}
				fmt.Fprintln(stdout, versionString())
				return nil
			}},
		{name: "help", args: "[COMMAND]", summary: "list the commands, or show one command's flags",
			about: "Without an argument lists the commands; with one shows that command's usage and flags."},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// writeCommands lists the commands, one line each.
func writeCommands(w io.Writer) {
	fmt.Fprint(w, "reminderd: WeChat subscribe-message reminders from one binary and one SQLite file.\n\n")
	fmt.Fprint(w, "usage: reminderd [command] [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s  %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"reminderd help COMMAND\" or \"reminderd COMMAND --help\" for a command's own flags.\n")
}

// writeCommandHelp shows one command's usage, what it does and its own flags.
func writeCommandHelp(w io.Writer, c command, getenv func(string) string) {
	fmt.Fprintf(w, "usage: %s\n\n%s: %s.\n%s\n", strings.TrimSpace("reminderd "+c.name+" "+c.args), c.name, c.summary, c.about)
	if c.name == "backup" {
		fmt.Fprint(w, "\narguments:\n  PATH\n    \tthe file to write (it must not exist)\n")
	}
	if c.flags == nil {
		return
	}
	fmt.Fprint(w, "\nflags:\n")
	writeFlags(w, c.flags(getenv, io.Discard))
}

func isHelpFlag(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// wantsHelp reports whether the flags ask for help: -h or --help before
// any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpFlag(a) {
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch a := args[0]; {
		case isHelpFlag(a):
			writeCommands(stdout)
			return nil
		case a == "--version" || a == "-version":
			args = append([]string{"version"}, args[1:]...)
		}
	}
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		if len(args) == 0 {
			writeCommands(stdout)
			return nil
		}
		topic := args[0]
		if isHelpFlag(topic) {
			topic = "help"
		}
		c, ok := findCommand(topic)
		if !ok || len(args) > 1 {
			return unknownCommand(stderr, strings.Join(args, " "))
		}
		writeCommandHelp(stdout, c, getenv)
		return nil
	}
	c, ok := findCommand(name)
	if !ok {
		return unknownCommand(stderr, name)
	}
	if wantsHelp(args) {
		writeCommandHelp(stdout, c, getenv)
		return nil
	}
	return c.run(ctx, args, getenv, stdout, stderr)
}

func unknownCommand(stderr io.Writer, name string) error {
	fmt.Fprintf(stderr, "reminderd: unknown command %q\n\n", name)
	writeCommands(stderr)
	return &usageError{err: fmt.Errorf("unknown command %q", name), reported: true}
}

// writeFlags prints a flag set the GNU way, "--name type", with the type
// named for what the value is (int, duration, …) and the default.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		if t, ok := f.Value.(interface{ Type() string }); ok {
			typ = t.Type()
		}
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// newLogger logs text to a terminal and JSON otherwise.
func newLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, nil))
		}
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// versionString names the build on one line: the version (the -ldflags
// one, else the module's when installed with go install m@v), the VCS
// revision, its time and whether the tree was modified when the build
// stamped them (go build in a checkout does; go run and go test do not),
// the Go version and the platform.
func versionString() string {
	v := version
	var vcs []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && len(s.Value) >= 12:
				vcs = append([]string{s.Value[:12]}, vcs...)
			case s.Key == "vcs.time":
				vcs = append(vcs, s.Value)
			case s.Key == "vcs.modified" && s.Value == "true":
				vcs = append(vcs, "modified")
			}
		}
	}
	out := "reminderd " + v
	if len(vcs) > 0 {
		out += " (" + strings.Join(vcs, ", ") + ")"
	}
	return out + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
