package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// machine describes where a run happened, for the recorded heading.
type machine struct {
	When   time.Time
	CPUs   int
	FSType string // of the temp dir the daemon's data lives in
	Go     string
}

func describeMachine(dir string) machine {
	return machine{When: time.Now().UTC(), CPUs: runtime.NumCPU(), FSType: fsType(dir), Go: runtime.Version()}
}

func (m machine) String() string {
	return fmt.Sprintf("%s, %d CPUs, %s temp dir, %s", m.When.Format("2006-01-02 15:04 UTC"), m.CPUs, m.FSType, m.Go)
}

// fsType names the file system holding dir: the type of the longest
// mount point above it in /proc/self/mountinfo (proc(5)), else a name for
// statfs's magic number.
func fsType(dir string) string {
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		abs = dir
	}
	if t := mountType(abs); t != "" {
		return t
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "ext2/3/4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	}
	return "0x" + strconv.FormatInt(st.Type, 16)
}

// mountType reads the mount table: field 5 is the mount point, and the
// file system type follows the " - " separator (proc(5), mountinfo).
func mountType(path string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, typ := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 1 {
			continue
		}
		mp := fields[4]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, typ = mp, tail[0]
		}
	}
	return typ
}
