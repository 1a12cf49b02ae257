package snapshot_test

import (
	"testing"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/snapshottest"
)

func TestOverlay(t *testing.T) {
	snapshottest.Run(t, snapshot.NewOverlay)
}

func TestNative(t *testing.T) {
	snapshottest.Run(t, snapshot.NewNative)
}
