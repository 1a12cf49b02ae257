package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/mount"
)

func TestParseVolumeSpec(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want MountPoint // Spec not compared
		err  string
	}{
		// A -v volume without a mode has dockerd's "z".
		{raw: "/data", want: MountPoint{Type: mount.TypeVolume, Destination: "/data", RW: true, CopyData: true, Mode: "z"}},
		{raw: "name:/data/", want: MountPoint{Type: mount.TypeVolume, Source: "name", Destination: "/data", RW: true, CopyData: true, Mode: "z"}},
		{raw: "name:/data:ro,nocopy", want: MountPoint{Type: mount.TypeVolume, Source: "name", Destination: "/data", Mode: "ro,nocopy"}},
		{raw: "/host/../etc:/ctr", want: MountPoint{Type: mount.TypeBind, Source: "/etc", Destination: "/ctr", RW: true, Propagation: mount.PropagationRPrivate}},
		{raw: "/h:/c:ro,rshared,z", want: MountPoint{Type: mount.TypeBind, Source: "/h", Destination: "/c", Mode: "ro,rshared,z", Propagation: mount.PropagationRShared}},
		{raw: "/h:/c:rw,delegated", want: MountPoint{Type: mount.TypeBind, Source: "/h", Destination: "/c", RW: true, Mode: "rw,delegated", Propagation: mount.PropagationRPrivate}},
		// dockerd 20.10's answers, recorded with the docker CLI.
		{raw: "/h:/", err: `invalid volume specification: '/h:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`},
		{raw: "/h:rel", err: `invalid volume specification: '/h:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
		{raw: "/x:rw", err: `invalid volume specification: '/x:rw'`},
		{raw: "/h:/c:rw,ro", err: `invalid mode: rw,ro`},
		{raw: "/h:/c:bogus", err: `invalid mode: bogus`},
		{raw: "a:b:c:d", err: `invalid volume specification: 'a:b:c:d'`},
		{raw: "", err: `invalid volume specification: ''`},
		{raw: ":/x", err: `invalid volume specification: ':/x'`},
		{raw: "/h:/c:z,Z", err: `invalid mode: z,Z`},
		{raw: "/h:/c:shared,slave", err: `invalid mode: shared,slave`},
		{raw: "v:/c:nocopy,nocopy", err: `invalid mode: nocopy,nocopy`},
		{raw: "rel", err: `invalid volume specification: 'rel': invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`},
	} {
		mp, err := ParseVolumeSpec(tc.raw)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !errdefs.IsInvalidArgument(err) {
				t.Errorf("ParseVolumeSpec(%q) = %+v, %v; want error %q", tc.raw, mp, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseVolumeSpec(%q): %v", tc.raw, err)
			continue
		}
		got := *mp
		got.Spec = mount.Mount{}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseVolumeSpec(%q) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func TestParseMountSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want mount.Mount
		err  string
	}{
		{in: "type=bind,src=/h,dst=/c,readonly,bind-propagation=rshared", want: mount.Mount{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true, BindOptions: &mount.BindOptions{Propagation: "rshared"}}},
		{in: "source=vol,target=/data,volume-nocopy,volume-label=a=b", want: mount.Mount{Type: "volume", Source: "vol", Target: "/data", VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{"a": "b"}}}},
		{in: "type=volume,dst=/d,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs", want: mount.Mount{Type: "volume", Target: "/d", VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "tmpfs", "device": "tmpfs"}}}}},
		{in: "type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770,ro=false", want: mount.Mount{Type: "tmpfs", Target: "/run", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: os.FileMode(0o1770)}}},
		{in: "TYPE=BIND,src=/h,dst=/c,ro=1", want: mount.Mount{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true}},
		{in: `"type=bind","src=/a,b",dst=/c`, want: mount.Mount{Type: "bind", Source: "/a,b", Target: "/c"}},
		// The docker CLI's messages (28.x), as `docker run --mount` prints them after its prefix.
		{in: "dst=/x,foo=bar", err: "unexpected key 'foo' in 'foo=bar'"},
		{in: "type=tmpfs,dst=/x,tmpfs-size=zz", err: "invalid value for tmpfs-size: zz"},
		{in: "type=tmpfs,dst=/x,tmpfs-mode=9", err: "invalid value for tmpfs-mode: 9"},
		{in: "type=bind,src=/h,dst=/x,bogus", err: "invalid field 'bogus' must be a key=value pair"},
		{in: "type=bind,src=/h,dst=/x,ro=maybe", err: `invalid value for 'ro': invalid boolean value ("maybe"): must be one of "true", "1", "false", or "0" (default "true")`},
		{in: "type=volume,dst=/x,bind-propagation=shared", err: "cannot mix 'bind-*' options with mount type 'volume'"},
		{in: "type=bind,src=/h,dst=/x,volume-nocopy", err: "cannot mix 'volume-*' options with mount type 'bind'"},
		{in: "type=bind,src=/h,dst=/x,tmpfs-size=1m", err: "cannot mix 'tmpfs-*' options with mount type 'bind'"},
		{in: "type=bind,src=/h,dst=/x,bind-nonrecursive", err: "bind-nonrecursive is deprecated, use bind-recursive=disabled instead"},
		{in: "type=bind,src=/h,dst=/x,bind-recursive=writable", err: "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"},
		{in: "type=,dst=/x", err: "invalid value for 'type': value is empty"},
		{in: "type=bind, src=/h", err: "invalid option 'src' in ' src=/h': option should not have whitespace"},
		{in: "  ", err: "value is empty"},
	} {
		got, err := ParseMountSpec(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseMountSpec(%q) = %+v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMountSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	rel, err := ParseMountSpec("type=bind,src=./x,dst=/x")
	if wd, _ := os.Getwd(); err != nil || rel.Source != filepath.Join(wd, "x") {
		t.Errorf("relative bind source: %+v, %v", rel, err)
	}
}

func TestValidateMount(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		m   mount.Mount
		err string
	}{
		{m: mount.Mount{Type: "bind", Source: dir, Target: "/x"}},
		{m: mount.Mount{Type: "volume", Target: "/x"}},
		{m: mount.Mount{Type: "tmpfs", Target: "/x", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}}},
		// dockerd 20.10's answers, recorded with the docker CLI.
		{m: mount.Mount{Type: "bind", Source: "/nonexist", Target: "/x"}, err: `invalid mount config for type "bind": bind source path does not exist: /nonexist`},
		{m: mount.Mount{Type: "volume", Target: "/x", ReadOnly: true}, err: `invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes`},
		{m: mount.Mount{Type: "bind", Source: dir, Target: "/x", BindOptions: &mount.BindOptions{Propagation: "bogus"}}, err: `invalid mount config for type "bind": invalid propagation mode: bogus`},
		{m: mount.Mount{Type: "tmpfs", Source: "/tmp", Target: "/x"}, err: `invalid mount config for type "tmpfs": field Source must not be specified`},
		{m: mount.Mount{Type: "bind", Target: "/x"}, err: `invalid mount config for type "bind": field Source must not be empty`},
		{m: mount.Mount{Type: "volume", Source: "v"}, err: `invalid mount config for type "volume": field Target must not be empty`},
		{m: mount.Mount{Type: "volume", Source: "v", Target: "/"}, err: `invalid mount config for type "volume": invalid specification: destination can't be '/'`},
		{m: mount.Mount{Type: "npipe", Source: "v", Target: "/x"}, err: `invalid mount config for type "npipe": mount type unknown`},
		{m: mount.Mount{Type: "image", Source: "busybox", Target: "/x", ImageOptions: &mount.ImageOptions{Subpath: "etc"}}},
		{m: mount.Mount{Type: "image", Target: "/x"}, err: `invalid mount config for type "image": field Source must not be empty`},
		{m: mount.Mount{Type: "image", Source: "busybox", Target: "/x", ImageOptions: &mount.ImageOptions{Subpath: "../x"}}, err: `invalid mount config for type "image": subpath must be a relative path within the volume`},
		{m: mount.Mount{Type: "image", Source: "busybox", Target: "/x", BindOptions: &mount.BindOptions{}}, err: `invalid mount config for type "image": field BindOptions must not be specified`},
		{m: mount.Mount{Type: "volume", Source: "v", Target: "/x", VolumeOptions: &mount.VolumeOptions{Subpath: "../x"}}, err: `invalid mount config for type "volume": subpath must be a relative path within the volume`},
		{m: mount.Mount{Type: "tmpfs", Target: "/x", TmpfsOptions: &mount.TmpfsOptions{Options: [][]string{{"suid"}}}}, err: `invalid mount config for type "tmpfs": invalid option: suid`},
	} {
		mp, err := ValidateMount(tc.m)
		if tc.err == "" {
			if err != nil {
				t.Errorf("ValidateMount(%+v): %v", tc.m, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.err || !errdefs.IsInvalidArgument(err) {
			t.Errorf("ValidateMount(%+v) = %+v, %v; want %q", tc.m, mp, err, tc.err)
		}
	}
	if s, _ := TmpfsOptions(&mount.TmpfsOptions{SizeBytes: 3 << 20, Mode: 0o1777, Options: [][]string{{"noexec"}}}, true); s != "ro,mode=1777,size=3m,noexec" {
		t.Errorf("TmpfsOptions = %q", s)
	}
}

func TestCheckBindSource(t *testing.T) {
	base := t.TempDir()
	dataRoot := filepath.Join(base, "data")
	os.MkdirAll(filepath.Join(dataRoot, "volumes", "v", "_data"), 0o755)
	os.MkdirAll(filepath.Join(base, "host"), 0o755)
	os.Symlink(filepath.Join(dataRoot, "volumes"), filepath.Join(base, "host", "sneaky"))
	for src, refused := range map[string]bool{
		filepath.Join(base, "host"): false,
		base:                        false, // a parent of the data root, as -v /:/host
		"/":                         false,
		dataRoot:                    true,
		filepath.Join(dataRoot, "volumes", "v", "_data"):         true,
		filepath.Join(base, "host", "..", "data", "metadata.db"): true, // does not exist yet
		filepath.Join(base, "host", "sneaky", "v"):               true, // through a symlink
		filepath.Join(base, "data2"):                             false,
	} {
		err := CheckBindSource(dataRoot, src)
		if refused && (err == nil || !errdefs.IsInvalidArgument(err)) {
			t.Errorf("CheckBindSource(%s) = %v, want a refusal", src, err)
		}
		if !refused && err != nil {
			t.Errorf("CheckBindSource(%s) = %v, want nil", src, err)
		}
	}
}

func TestBindDaemonRoot(t *testing.T) {
	base := t.TempDir()
	dataRoot := filepath.Join(base, "data")
	os.MkdirAll(filepath.Join(dataRoot, "containers"), 0o755)
	os.MkdirAll(filepath.Join(base, "host"), 0o755)
	os.Symlink(filepath.Join(dataRoot, "containers"), filepath.Join(base, "host", "sneaky"))
	bind := func(src string, prop mount.Propagation) mount.Mount {
		m := mount.Mount{Type: mount.TypeBind, Source: src, Target: "/x"}
		if prop != "" {
			m.BindOptions = &mount.BindOptions{Propagation: prop}
		}
		return m
	}
	for _, tc := range []struct {
		m       mount.Mount
		rslave  bool
		refused bool
	}{
		{m: bind(filepath.Join(base, "host"), "")},
		{m: bind(filepath.Join(base, "host"), mount.PropagationPrivate)},
		{m: bind(filepath.Join(base, "data2"), "")},
		{m: bind(dataRoot, ""), rslave: true},
		{m: bind(base, ""), rslave: true}, // holds the data root, as -v /:/host
		{m: bind("/", ""), rslave: true},
		{m: bind(filepath.Join(dataRoot, "containers", "new"), ""), rslave: true}, // does not exist yet
		{m: bind(filepath.Join(base, "host", "sneaky"), ""), rslave: true},        // through a symlink
		{m: bind(dataRoot, mount.PropagationRSlave)},
		{m: bind(dataRoot, mount.PropagationRShared)},
		{m: bind(dataRoot, mount.PropagationPrivate), refused: true},
		{m: bind(dataRoot, mount.PropagationShared), refused: true},
		{m: bind("/", mount.PropagationRPrivate), refused: true},
		{m: bind(filepath.Join(base, "host", "sneaky"), mount.PropagationSlave), refused: true},
		{m: mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/x"}},
	} {
		rslave, err := BindDaemonRoot(dataRoot, tc.m)
		if tc.refused {
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `must use either propagation mode "rslave" or "rshared"`) {
				t.Errorf("BindDaemonRoot(%s, %+v) = %v, want dockerd's refusal", tc.m.Source, tc.m.BindOptions, err)
			}
			continue
		}
		if err != nil || rslave != tc.rslave {
			t.Errorf("BindDaemonRoot(%s, %+v) = %v, %v; want %v, nil", tc.m.Source, tc.m.BindOptions, rslave, err, tc.rslave)
		}
	}
}

func TestOCIMount(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mp     func() (*MountPoint, error)
		source string
		want   string
	}{
		{func() (*MountPoint, error) { return ParseVolumeSpec("/h:/c:ro,rshared") }, "/h", "bind /h -> /c [rbind ro rshared]"},
		{func() (*MountPoint, error) { return ParseVolumeSpec("data:/srv") }, "/var/lib/berth/volumes/data/_data", "bind /var/lib/berth/volumes/data/_data -> /srv [rbind rprivate]"},
		{func() (*MountPoint, error) {
			return ValidateMount(mount.Mount{Type: "bind", Source: dir, Target: "/x", BindOptions: &mount.BindOptions{NonRecursive: true}})
		}, dir, "bind " + dir + " -> /x [bind rprivate]"},
		{func() (*MountPoint, error) {
			return ValidateMount(mount.Mount{Type: "tmpfs", Target: "/run", ReadOnly: true, TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777}})
		}, "", "tmpfs tmpfs -> /run [nosuid nodev noexec ro mode=1777 size=64m]"},
		{func() (*MountPoint, error) {
			return ValidateMount(mount.Mount{Type: "tmpfs", Target: "/run", TmpfsOptions: &mount.TmpfsOptions{Options: [][]string{{"exec"}}}})
		}, "", "tmpfs tmpfs -> /run [nosuid nodev]"},
	} {
		mp, err := tc.mp()
		if err != nil {
			t.Fatal(err)
		}
		m := mp.OCIMount(tc.source)
		if got := fmt.Sprintf("%s %s -> %s %v", m.Type, m.Source, m.Destination, m.Options); got != tc.want {
			t.Errorf("OCIMount = %s, want %s", got, tc.want)
		}
	}
}
