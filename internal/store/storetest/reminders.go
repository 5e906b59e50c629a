package storetest

import "testing"

func reminderTests(t *testing.T, open Open) {
}
