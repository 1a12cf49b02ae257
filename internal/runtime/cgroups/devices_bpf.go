package cgroups

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf(2) commands, program and attach types and flags (linux/bpf.h).
const (
	bpfProgLoad          = 5
	bpfProgAttach        = 8
	bpfProgDetach        = 9
	bpfProgGetFdByID     = 13
	bpfProgQuery         = 16
	bpfProgTypeCgroupDev = 15
	bpfCgroupDevice      = 6
	bpfFAllowMulti       = 2
)

type bpfProgLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

type bpfAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

type bpfQueryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

type bpfGetFdAttr struct {
	id       uint32
	nextID   uint32
	openFlag uint32
}

func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// loadDeviceProgram loads prog into the kernel and returns its fd. On failure
// it loads again with the verifier log, to report why.
func loadDeviceProgram(prog []bpfInsn) (int, error) {
	license := []byte("Apache\x00")
	name := [16]byte{}
	copy(name[:], "berth_devices")
	attr := bpfProgLoadAttr{
		progType:           bpfProgTypeCgroupDev,
		insnCnt:            uint32(len(prog)),
		insns:              uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		progName:           name,
		expectedAttachType: bpfCgroupDevice,
	}
	fd, err := bpfCall(bpfProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err == nil {
		runtime.KeepAlive(prog)
		runtime.KeepAlive(license)
		return fd, nil
	}
	log := make([]byte, 64*1024)
	attr.logLevel = 1
	attr.logSize = uint32(len(log))
	attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	fd2, err2 := bpfCall(bpfProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	if err2 == nil {
		return fd2, nil
	}
	msg := string(log)
	if i := indexByte(log, 0); i >= 0 {
		msg = string(log[:i])
	}
	return -1, fmt.Errorf("load device filter (%d instructions): %w: %s", len(prog), err, msg)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// attachedDevicePrograms returns the ids of the device programs attached to
// the cgroup directory open at cgroupFd.
func attachedDevicePrograms(cgroupFd int) ([]uint32, error) {
	ids := make([]uint32, 64)
	attr := bpfQueryAttr{
		targetFd:   uint32(cgroupFd),
		attachType: bpfCgroupDevice,
		progIDs:    uint64(uintptr(unsafe.Pointer(&ids[0]))),
		progCnt:    uint32(len(ids)),
	}
	_, err := bpfCall(bpfProgQuery, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(ids)
	if err != nil {
		return nil, fmt.Errorf("query device filters: %w", err)
	}
	return ids[:attr.progCnt], nil
}

// setDeviceFilter compiles rules, attaches the program to the cgroup at dir
// and then detaches the programs attached before, so an update never leaves
// the cgroup without a filter.
func setDeviceFilter(dir string, rules []deviceRule) error {
	prog := deviceFilterProgram(rules)
	cg, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set device filter: open cgroup %s: %w", dir, err)
	}
	defer unix.Close(cg)
	old, err := attachedDevicePrograms(cg)
	if err != nil {
		return fmt.Errorf("set device filter on %s: %w", dir, err)
	}
	progFd, err := loadDeviceProgram(prog)
	if err != nil {
		return fmt.Errorf("set device filter on %s: %w", dir, err)
	}
	defer unix.Close(progFd)
	attach := bpfAttachAttr{
		targetFd:    uint32(cg),
		attachBpfFd: uint32(progFd),
		attachType:  bpfCgroupDevice,
		attachFlags: bpfFAllowMulti,
	}
	if _, err := bpfCall(bpfProgAttach, unsafe.Pointer(&attach), unsafe.Sizeof(attach)); err != nil {
		return fmt.Errorf("set device filter: attach to %s: %w", dir, err)
	}
	var errs []error
	for _, id := range old {
		if err := detachDeviceProgram(cg, id); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("set device filter on %s: %w", dir, err)
	}
	return nil
}

func detachDeviceProgram(cgroupFd int, id uint32) error {
	get := bpfGetFdAttr{id: id}
	fd, err := bpfCall(bpfProgGetFdByID, unsafe.Pointer(&get), unsafe.Sizeof(get))
	if err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return fmt.Errorf("detach old device filter %d: %w", id, err)
	}
	defer unix.Close(fd)
	detach := bpfAttachAttr{
		targetFd:    uint32(cgroupFd),
		attachBpfFd: uint32(fd),
		attachType:  bpfCgroupDevice,
	}
	if _, err := bpfCall(bpfProgDetach, unsafe.Pointer(&detach), unsafe.Sizeof(detach)); err != nil && err != unix.ENOENT {
		return fmt.Errorf("detach old device filter %d: %w", id, err)
	}
	return nil
}
