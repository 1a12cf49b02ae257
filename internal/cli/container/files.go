package container

import (
	"os"
	"strings"
)

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func cut(s, sep string) (string, string, bool) { return strings.Cut(s, sep) }
