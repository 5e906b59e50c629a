package testkit

import "testing"

func TestDollarsNumbersThePlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                          "SELECT 1",
		"UPDATE r SET a = ? WHERE id = ?":   "UPDATE r SET a = $1 WHERE id = $2",
		"VALUES (?, ?, 1, 'sent', ?, ?, ?)": "VALUES ($1, $2, 1, 'sent', $3, $4, $5)",
	} {
		if got := dollars(in); got != want {
			t.Errorf("dollars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSQLiteOnlySkipsOnlyOnPostgres(t *testing.T) {
	t.Setenv(EnvStore, "")
	SQLiteOnly(t, "not skipped on SQLite") // returns
	ran := false
	t.Run("postgres", func(t *testing.T) {
		t.Setenv(EnvStore, "postgres")
		SQLiteOnly(t, "skipped")
		ran = true
	})
	if ran {
		t.Fatal("SQLiteOnly did not skip on the PostgreSQL run")
	}
}
