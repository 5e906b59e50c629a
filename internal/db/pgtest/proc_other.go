//go:build !linux

package pgtest

import (
	"errors"
	"os"
	"syscall"
)

// asWhom returns nil: only on Linux does this package switch users.
func asWhom() (*runAs, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("pgtest: running as root, and PostgreSQL refuses root (only on Linux does pgtest run it as nobody)")
	}
	return nil, nil
}

// attr returns no attributes: without Linux's parent-death signal the
// server outlives a test binary that exits without pgtest.Stop.
func (r *runAs) attr(syscall.Signal) *syscall.SysProcAttr { return nil }
