package db

import "testing"

// The rebuild marker is found whatever the line endings the migration was
// checked out with: missed, the rebuild would run with foreign keys on.
func TestRebuildMarkerToleratesLineEndings(t *testing.T) {
	for sql, want := range map[string]bool{
		"-- reminderd:foreign-keys-off\nPRAGMA x;":      true,
		"-- reminderd:foreign-keys-off\r\nPRAGMA x;":    true,
		"-- reminderd:foreign-keys-off  \nPRAGMA x;":    true,
		"-- reminderd:foreign-keys-off":                 true,
		"-- a comment\n-- reminderd:foreign-keys-off\n": false,
		"DROP INDEX x;": false,
	} {
		if got := rebuilds(sql); got != want {
			t.Errorf("rebuilds(%q) = %v, want %v", sql, got, want)
		}
	}
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if !rebuilds(ms[3].SQL) {
		t.Fatal("migration 4 rebuilds the reminders table but is not marked")
	}
}
