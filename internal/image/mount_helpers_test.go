package image

import "github.com/berth/berth/internal/snapshot/mount"

func mountAll(m []mount.Mount, dir string) error { return mount.All(m, dir) }
func unmountAll(dir string) error                { return mount.UnmountAll(dir) }
