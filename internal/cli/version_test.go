package cli

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadBuildInfo(t *testing.T) {
	vcs := func(rev, at, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: at}, {Key: "vcs.modified", Value: modified},
		}
	}
	for _, tt := range []struct {
		name                  string
		bi                    *debug.BuildInfo
		version, commit, date string // ldflags
		want                  buildInfo
	}{
		{
			name: "go build in a clean clone",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc123", "2026-06-01T10:00:00Z", "false")},
			want: buildInfo{Version: "dev", Commit: "abc123", Date: "2026-06-01T10:00:00Z", GoVersion: "go1.26.8", Platform: "linux/arm64"},
		},
		{
			name: "go build with uncommitted changes",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc123", "2026-06-01T10:00:00Z", "true")},
			want: buildInfo{Version: "dev", Commit: "abc123", Date: "2026-06-01T10:00:00Z", Modified: true, GoVersion: "go1.26.8", Platform: "linux/arm64"},
		},
		{
			name: "go install @version has a module version and no VCS stamp",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{{Key: "GOOS", Value: "darwin"}, {Key: "GOARCH", Value: "amd64"}}},
			want: buildInfo{Version: "v1.4.0", GoVersion: "go1.26.8", Platform: "darwin/amd64"},
		},
		{
			name:    "release build: ldflags win over the VCS stamp",
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc123", "2026-06-01T10:00:00Z", "true")},
			version: "v1.5.0", commit: "def456", date: "2026-07-01T00:00:00Z",
			want: buildInfo{Version: "v1.5.0", Commit: "def456", Date: "2026-07-01T00:00:00Z", GoVersion: "go1.26.8", Platform: "linux/arm64"},
		},
		{
			name:    "release build without build info",
			version: "v1.5.0",
			want:    buildInfo{Version: "v1.5.0", GoVersion: "go-runtime", Platform: "runtime"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := readBuildInfo(tt.bi, tt.version, tt.commit, tt.date)
			if tt.want.GoVersion == "go-runtime" { // from the runtime: not fixed by the test
				tt.want.GoVersion, tt.want.Platform = got.GoVersion, got.Platform
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readBuildInfo(...) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildInfoString(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   buildInfo
		want string
	}{
		{"release", buildInfo{Version: "v1.5.0", Commit: "def456", Date: "2026-07-01T00:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"keyage v1.5.0\n  commit: def456\n  date:   2026-07-01T00:00:00Z\n  go:     go1.26.8 linux/amd64\n"},
		{"modified clone", buildInfo{Version: "dev", Commit: "abc123", Modified: true, GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"keyage dev\n  commit: abc123 (modified)\n  go:     go1.26.8 linux/amd64\n"},
		{"nothing known", buildInfo{Version: "dev", GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"keyage dev\n  commit: unknown\n  go:     go1.26.8 linux/amd64\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("buildInfo.String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionCommands checks that "keyage version" and "keyage --version"
// print the same report, with the ldflags values a release build sets.
func TestVersionCommands(t *testing.T) {
	old := [3]string{Version, Commit, Date}
	Version, Commit, Date = "v9.8.7", "cafef00d", "2026-06-01T00:00:00Z"
	t.Cleanup(func() { Version, Commit, Date = old[0], old[1], old[2] })
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, stderr := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("keyage %s: exit %d; stderr:\n%s", args[0], code, stderr)
		}
		for _, want := range []string{"keyage v9.8.7\n", "commit: cafef00d\n", "date:   2026-06-01T00:00:00Z\n", "go:     go1."} {
			if !strings.Contains(out, want) {
				t.Errorf("keyage %s prints %q, want it to contain %q", args[0], out, want)
			}
		}
		outs = append(outs, out)
	}
	if outs[0] != outs[1] {
		t.Errorf("keyage version and keyage --version differ:\n%s\n%s", outs[0], outs[1])
	}
}
