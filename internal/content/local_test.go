package content_test

import (
	"testing"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/content/contenttest"
)

func newLocal(t *testing.T) *content.LocalStore {
	t.Helper()
	s, err := content.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLocalConformance(t *testing.T) {
	contenttest.Run(t, func(t *testing.T) content.Store { return newLocal(t) })
}
