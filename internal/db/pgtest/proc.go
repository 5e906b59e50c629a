package pgtest

// runAs is the unprivileged user the server runs as when the tests run as
// root (initdb and postgres refuse root); nil means this process's user.
type runAs struct {
	name     string
	uid, gid uint32
}
