package volume

import (
	"path"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
)

// FuzzParseVolumeSpec: any -v value either fails or yields an absolute,
// clean destination other than "/", and a bind's source is absolute.
func FuzzParseVolumeSpec(f *testing.F) {
	for _, s := range []string{"/data", "v:/d:ro,nocopy", "/h:/c:rshared,z", "a:b:c:d", ":/x", "/h/../..:/c", "/x:rw", "\x00:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		mp, err := ParseVolumeSpec(raw)
		if err != nil {
			return
		}
		if !path.IsAbs(mp.Destination) || path.Clean(mp.Destination) != mp.Destination || mp.Destination == "/" {
			t.Fatalf("%q: destination %q", raw, mp.Destination)
		}
		if mp.Type == mount.TypeBind && (!path.IsAbs(mp.Source) || path.Clean(mp.Source) != mp.Source) {
			t.Fatalf("%q: bind source %q", raw, mp.Source)
		}
		if mp.Type == mount.TypeVolume && strings.HasPrefix(mp.Source, "/") {
			t.Fatalf("%q: volume named %q", raw, mp.Source)
		}
	})
}

// FuzzParseMountSpec: any --mount value either fails or carries only the
// options of its type, and validating it never panics.
func FuzzParseMountSpec(f *testing.F) {
	for _, s := range []string{"type=bind,src=/h,dst=/c,ro", "type=tmpfs,dst=/t,tmpfs-size=1m", `"src=/a,b",dst=/c`, "volume-opt=a=b,dst=/x", "type=bind,bind-recursive=readonly,readonly,bind-propagation=rprivate,src=/,dst=/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		m, err := ParseMountSpec(value)
		if err != nil {
			return
		}
		if m.BindOptions != nil && m.Type != mount.TypeBind || m.VolumeOptions != nil && m.Type != mount.TypeVolume || m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs {
			t.Fatalf("%q: options of another type in %+v", value, m)
		}
		_, _ = ValidateMount(m)
	})
}

// FuzzValidateName: an accepted name is a single path element that stays
// inside the store.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"data", "a", "..", "a/b", "x..y", "-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName(name) != nil {
			return
		}
		if strings.ContainsAny(name, "/\x00") || name == "." || name == ".." || strings.HasPrefix(name, ".") {
			t.Fatalf("accepted %q", name)
		}
	})
}
