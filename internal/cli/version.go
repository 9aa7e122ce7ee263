package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Release builds set these with -ldflags, as .goreleaser.yaml does:
//
//	-X github.com/keyage/keyage/internal/cli.Version=v1.2.3
//	-X github.com/keyage/keyage/internal/cli.Commit=0123abc...
//	-X github.com/keyage/keyage/internal/cli.Date=2026-06-01T00:00:00Z
//
// Left empty, they come from the binary's build information: the module
// version for "go install ...@v1.2.3", the VCS stamp for a build in a clone.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// buildInfo is what "keyage version" reports.
type buildInfo struct {
	Version   string // v1.2.3, or "dev" when unknown
	Commit    string // VCS revision, empty when unknown
	Date      string // commit time (or release build time), empty when unknown
	Modified  bool   // the work tree had uncommitted changes
	GoVersion string // go1.26.8
	Platform  string // linux/amd64
}

// readBuildInfo combines the ldflags values (which win) with bi, the result
// of debug.ReadBuildInfo (nil when the binary has none).
func readBuildInfo(bi *debug.BuildInfo, version, commit, date string) buildInfo {
	info := buildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.Date == "" {
					info.Date = s.Value
				}
			case "vcs.modified":
				// A release build's commit comes from ldflags; the
				// flag only describes the VCS stamp it replaced.
				info.Modified = s.Value == "true" && commit == ""
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" && goarch != "" {
			info.Platform = goos + "/" + goarch
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	return info
}

// String is the text of "keyage version" and "keyage --version".
func (b buildInfo) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "keyage %s\n", b.Version)
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(&sb, "  commit: %s\n", commit)
	if b.Date != "" {
		fmt.Fprintf(&sb, "  date:   %s\n", b.Date)
	}
	fmt.Fprintf(&sb, "  go:     %s %s\n", b.GoVersion, b.Platform)
	return sb.String()
}

// currentBuild is this binary's buildInfo.
func currentBuild() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return readBuildInfo(bi, Version, Commit, Date)
}

// version is keyage's version alone (v1.2.3 or "dev"), for the dashboard,
// the API and message footers.
func version() string { return currentBuild().Version }

func newVersionCmd(ios *IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print keyage's version, commit, build date and Go version",
		Long: `Version prints keyage's version, the commit it was built from (marked
"(modified)" when the work tree had uncommitted changes), the commit or
release date, and the Go version and platform. "keyage --version" prints the
same.`,
		Example: `  keyage version
  keyage --version`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprint(ios.Out, currentBuild())
			return err
		},
	}
}
