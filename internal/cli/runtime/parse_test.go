package runtime

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "10k": 10 << 10, "64m": 64 << 20, "1G": 1 << 30, "5b": 5} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "m", "-5", "1x", "1.5g"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) succeeded", bad)
		}
	}
}
