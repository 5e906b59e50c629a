package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/reminderd/reminderd/internal/dbcopy"
)

// copyAbout is the copy command's help: what it does and how to use it.
const copyAbout = "Moves a whole deployment from its SQLite file onto an empty PostgreSQL database: every table,\n" +
	"ids kept, in one transaction on the target (all or nothing). It creates the schema on the target,\n" +
	"refuses a target that already holds rows (changing nothing), prints the rows copied per table and\n" +
	"exits 0 only after the counts of both sides were compared. The SQLite file is opened read-only; one\n" +
	"at an older schema version is refused (run \"reminderd migrate --db FILE\" first).\n" +
	"Run it with the service stopped, after a backup; then point REMINDERD_DB at the PostgreSQL URL and start it."

// copyFlags is the copy command's flag set.
func copyFlags(w io.Writer) (*flag.FlagSet, *string, *string) {
	fs := newFlagSet("copy", w)
	from, to := new(string), new(string)
	fs.Var(&typedString{dst: from, typ: "file"}, "from", "the SQLite database to copy (read-only; it must exist)")
	fs.Var(&typedString{dst: to, typ: "url"}, "to", "the PostgreSQL database to fill: postgres://user:password@host:port/database (never printed)")
	return fs, from, to
}

func copyCmd(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs, from, to := copyFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	switch {
	case fs.NArg() > 0:
		return usageErrorf("copy: unexpected argument %q", fs.Arg(0))
	case *from == "":
		return usageErrorf("copy: --from FILE is required (the SQLite database)")
	case *to == "":
		return usageErrorf("copy: --to URL is required (postgres://…)")
	case !strings.HasPrefix(*to, "postgres://") && !strings.HasPrefix(*to, "postgresql://"):
		return usageErrorf("copy: --to must be a postgres:// or postgresql:// URL")
	}
	res, err := dbcopy.Copy(ctx, *from, *to)
	if err != nil {
		if errors.Is(err, dbcopy.ErrNotEmpty) {
			return fmt.Errorf("copy refused: %w", err)
		}
		return fmt.Errorf("copy failed, the target is unchanged: %w", err)
	}
	fmt.Fprintf(stdout, "copied %s to PostgreSQL %s (schema version %d):\n", *from, res.Target, res.Version)
	width, digits := 0, 1
	var total int64
	for _, t := range res.Tables {
		width, digits = max(width, len(t.Name)), max(digits, len(fmt.Sprint(t.Rows)))
		total += t.Rows
	}
	for _, t := range res.Tables {
		fmt.Fprintf(stdout, "  %-*s  %*d rows\n", width, t.Name, digits, t.Rows)
	}
	fmt.Fprintf(stdout, "%d rows in %d tables, counts equal on both sides; committed.\n", total, len(res.Tables))
	fmt.Fprintln(stdout, "next: set REMINDERD_DB to the PostgreSQL URL and start reminderd serve.")
	return nil
}
