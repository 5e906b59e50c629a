package storetest

import "testing"

func engineTests(t *testing.T, open Open) {
}
