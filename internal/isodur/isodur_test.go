package isodur

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT10M": 10 * time.Minute, "P1D": 24 * time.Hour, "P1DT2H": 26 * time.Hour, "PT0S": 0,
		"P2W": 14 * 24 * time.Hour, "PT1H30M": 90 * time.Minute, "PT0.5S": 500 * time.Millisecond, "PT90S": 90 * time.Second,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "10M", "PT10", "P1M", "P1Y", "PT1M2H", "PT-5M", "P1.5D", "PT1e3S", "pt10m", "PT10M ", "PTM", "P1DT"} {
		if d, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, d)
		}
	}
}
